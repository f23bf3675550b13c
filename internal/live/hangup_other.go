//go:build !linux

package live

import (
	"context"
	"errors"
	"net"
)

// hangups has no shared watcher off Linux: each detached stream watches its
// connection with a goroutine of its own (watch).
type hangups struct{}

func newHangups() (*hangups, error) { return nil, errors.New("no epoll here") }

func (*hangups) watch(net.Conn, context.CancelFunc) (func(), error) {
	return nil, errors.New("no epoll here")
}

func (*hangups) close() {}
