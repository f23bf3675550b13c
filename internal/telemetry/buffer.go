package telemetry

import (
	"io"
	"sync"
	"time"
)

// BufferedWriter gathers log lines and writes them in batches: at most every
// interval, or when the batch fills, or on Flush. One write(2) per request
// for the access log costs a loaded service more than the rest of answering a
// cached request; a batch costs one write for hundreds of lines.
//
// A batch is written outside the lock that lines are added under, so a slow
// log reader (a full pipe) holds up only the goroutine that flushes, not
// every request that logs; a writer waits only when a second batch has filled
// while the first is still being written, which bounds the memory to two
// batches.
//
// A logger made by NewLogger over a BufferedWriter flushes after every
// warning or error, so those are never held back, and lines keep their order.
type BufferedWriter struct {
	w io.Writer

	mu  sync.Mutex // guards buf, the batch being filled
	buf []byte

	out   sync.Mutex // held while a batch is written: one at a time, in order
	spare []byte     // the last written batch's memory, for the next; guarded by out

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
	b := &BufferedWriter{w: w, buf: make([]byte, 0, logBufferBytes), stop: make(chan struct{}), done: make(chan struct{})}
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

// Write adds p, a whole line, to the batch; when the batch is full it is
// written first.
func (b *BufferedWriter) Write(p []byte) (int, error) {
	b.mu.Lock()
	if len(b.buf) == 0 || len(b.buf)+len(p) <= logBufferBytes {
		b.buf = append(b.buf, p...) // the common case: one lock per line
		b.mu.Unlock()
		return len(p), nil
	}
	b.mu.Unlock()
	if err := b.Flush(); err != nil {
		return 0, err
	}
	b.mu.Lock()
	b.buf = append(b.buf, p...)
	b.mu.Unlock()
	return len(p), nil
}

// Flush writes what is buffered, after any batch being written.
func (b *BufferedWriter) Flush() error {
	b.out.Lock()
	defer b.out.Unlock()
	b.mu.Lock()
	batch := b.buf
	b.buf = b.spare[:0]
	b.mu.Unlock()
	b.spare = batch[:0]
	if len(batch) == 0 {
		return nil
	}
	_, err := b.w.Write(batch)
	return err
}

// Close stops the periodic flush and writes what is left. Lines written after
// Close are buffered until the next Flush.
func (b *BufferedWriter) Close() error {
	b.once.Do(func() { close(b.stop) })
	<-b.done
	return b.Flush()
}
