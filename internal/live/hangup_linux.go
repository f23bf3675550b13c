package live

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"syscall"

	"golang.org/x/sys/unix"
)

// hangups tells the detached streams whose client has closed its
// connection, with one epoll instance and one goroutine for all of them,
// where a goroutine per stream blocked in a read cost 4 KiB of stack each
// (the runtime starts goroutines with its average stack size): 10 000 idle
// streams, 30–32 → 25–27 KiB of RSS each (internal/tools/streams,
// BENCHMARKS.md). Written on golang.org/x/sys rather than an epoll library
// (smallnest/epoller, mailru/easygo's netpoll): those register a connection
// by its descriptor and hand it back for reading, where here nothing reads
// and a late event must not reach a stream that reuses the descriptor.
//
// Only the hang-up is watched (EPOLLRDHUP; EPOLLHUP and EPOLLERR come
// anyway), never data: the Go runtime's own poller keeps the connection, and
// nothing here reads from it. The registration is by an id of the watch, not
// the descriptor, so an event that races a stream's end cannot reach the
// stream that reuses its descriptor.
type hangups struct {
	epoll, wake int // the epoll instance and the eventfd that stops run

	mu      sync.Mutex
	next    uint32
	watched map[uint32]context.CancelFunc
	closed  bool
}

// wakeID is the eventfd's id in the epoll instance; no watch has it.
const wakeID = 0

func newHangups() (*hangups, error) {
	epoll, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
	if err != nil {
		return nil, fmt.Errorf("epoll_create1: %w", err)
	}
	wake, err := unix.Eventfd(0, unix.EFD_CLOEXEC|unix.EFD_NONBLOCK)
	if err != nil {
		_ = unix.Close(epoll)
		return nil, fmt.Errorf("eventfd: %w", err)
	}
	if err := unix.EpollCtl(epoll, unix.EPOLL_CTL_ADD, wake, &unix.EpollEvent{Events: unix.EPOLLIN, Fd: wakeID}); err != nil {
		_ = unix.Close(epoll)
		_ = unix.Close(wake)
		return nil, fmt.Errorf("epoll_ctl: %w", err)
	}
	h := &hangups{epoll: epoll, wake: wake, watched: map[uint32]context.CancelFunc{}}
	go h.run()
	return h, nil
}

// watch calls cancel when conn's client closes it; stop, called before conn
// is closed, ends the watch.
func (h *hangups) watch(conn net.Conn, cancel context.CancelFunc) (stop func(), err error) {
	sc, ok := conn.(syscall.Conn)
	if !ok {
		return nil, errors.New("not a socket")
	}
	raw, err := sc.SyscallConn()
	if err != nil {
		return nil, err
	}
	// Every epoll_ctl is made under h.mu and before close: the instance's
	// descriptor, once closed by run, may be another's, the Go runtime's own
	// poller's included.
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return nil, errors.New("closed")
	}
	id := h.next
	for id == wakeID || h.watched[id] != nil { // after 2³² watches, skip those still open
		id++
	}
	h.next = id + 1
	ev := unix.EpollEvent{Events: unix.EPOLLRDHUP | unix.EPOLLET, Fd: int32(id)}
	var ctlErr error
	if err := raw.Control(func(fd uintptr) { ctlErr = unix.EpollCtl(h.epoll, unix.EPOLL_CTL_ADD, int(fd), &ev) }); err == nil {
		err = ctlErr
	}
	if err != nil {
		return nil, fmt.Errorf("epoll_ctl: %w", err)
	}
	h.watched[id] = cancel
	return func() {
		h.mu.Lock()
		defer h.mu.Unlock()
		delete(h.watched, id)
		if !h.closed {
			// Gone from the instance when the descriptor is closed anyway;
			// removed here so that no event comes for it meanwhile. A
			// connection closed already (Shutdown) refuses Control.
			_ = raw.Control(func(fd uintptr) { _ = unix.EpollCtl(h.epoll, unix.EPOLL_CTL_DEL, int(fd), nil) })
		}
	}, nil
}

// run waits in epoll_wait, a blocking system call: the runtime hands its
// processor to other goroutines meanwhile, and nothing wakes the process
// while no client hangs up.
func (h *hangups) run() {
	events := make([]unix.EpollEvent, 128)
	for {
		n, err := unix.EpollWait(h.epoll, events, -1)
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if err != nil {
			return // the instance is broken: streams still end with their keep-alives' failure
		}
		for _, ev := range events[:n] {
			id := uint32(ev.Fd)
			if id == wakeID { // close: no epoll_ctl comes after it
				_ = unix.Close(h.epoll)
				_ = unix.Close(h.wake)
				return
			}
			h.mu.Lock()
			cancel := h.watched[id]
			delete(h.watched, id)
			h.mu.Unlock()
			if cancel != nil {
				cancel()
			}
		}
	}
}

// close stops run; watches from then on are refused.
func (h *hangups) close() {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return
	}
	h.closed = true
	one := [8]byte{1}
	_, _ = unix.Write(h.wake, one[:]) // host byte order: 1 on little-endian, more on big: any non-zero wakes
}
