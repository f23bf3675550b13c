package telemetry

import (
	"bufio"
	"io"
	"sync"
	"time"
)

// BufferedWriter gathers log lines and writes them in batches: at most every
// interval, or when the buffer fills, or on Flush. One write(2) per request
// for the access log costs a loaded service more than the rest of answering a
// cached request; a batch costs one write for hundreds of lines.
//
// A logger made by NewLogger over a BufferedWriter flushes after every
// warning or error, so those are never held back, and lines keep their order.
type BufferedWriter struct {
	mu   sync.Mutex
	buf  *bufio.Writer
	stop chan struct{}
	done chan struct{}
	once sync.Once
}

// logBufferBytes is the batch size: lines are written when this fills, even
// before the interval ends.
const logBufferBytes = 64 << 10

// NewBufferedWriter buffers writes to w and flushes them every interval until
// Close.
func NewBufferedWriter(w io.Writer, interval time.Duration) *BufferedWriter {
	b := &BufferedWriter{buf: bufio.NewWriterSize(w, logBufferBytes), stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(b.done)
		tick := time.NewTicker(interval)
		defer tick.Stop()
		for {
			select {
			case <-tick.C:
				_ = b.Flush()
			case <-b.stop:
				return
			}
		}
	}()
	return b
}

// Write buffers p; it is written whole, in one write with other lines.
func (b *BufferedWriter) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

// Flush writes what is buffered.
func (b *BufferedWriter) Flush() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Flush()
}

// Close stops the periodic flush and writes what is left. Lines written after
// Close are buffered until the next Flush.
func (b *BufferedWriter) Close() error {
	b.once.Do(func() { close(b.stop) })
	<-b.done
	return b.Flush()
}
