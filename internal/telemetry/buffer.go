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

	// kick tells the flusher that a batch has its first line; the
	// flusher then writes the batch one interval later. With nothing
	// buffered it sleeps: an idle service (10 000 open streams and no
	// requests) is not woken ten times a second for nothing, each wake-up
	// costing a few hundred microseconds on a virtual machine.
	kick chan struct{}
	stop chan struct{}
	done chan struct{}
	once sync.Once
}

// logBufferBytes is the batch size: lines are written when this fills, even
// before the interval ends.
const logBufferBytes = 64 << 10

// NewBufferedWriter buffers writes to w and writes each batch one interval
// after its first line (or sooner, when it fills or on Flush) until Close.
func NewBufferedWriter(w io.Writer, interval time.Duration) *BufferedWriter {
	b := &BufferedWriter{w: w, buf: make([]byte, 0, logBufferBytes), kick: make(chan struct{}, 1), stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(b.done)
		wait := time.NewTimer(interval)
		defer wait.Stop()
		for {
			select {
			case <-b.kick:
			case <-b.stop:
				return
			}
			wait.Reset(interval)
			select {
			case <-wait.C:
				_ = b.Flush()
			case <-b.stop:
				return // Close flushes
			}
		}
	}()
	return b
}

// first tells the flusher that the batch has its first line.
func (b *BufferedWriter) first() {
	select {
	case b.kick <- struct{}{}:
	default: // told already
	}
}

// Write adds p, a whole line, to the batch; when the batch is full it is
// written first.
func (b *BufferedWriter) Write(p []byte) (int, error) {
	b.mu.Lock()
	if empty := len(b.buf) == 0; empty || len(b.buf)+len(p) <= logBufferBytes {
		b.buf = append(b.buf, p...) // the common case: one lock per line
		b.mu.Unlock()
		if empty {
			b.first()
		}
		return len(p), nil
	}
	b.mu.Unlock()
	if err := b.Flush(); err != nil {
		return 0, err
	}
	b.mu.Lock()
	empty := len(b.buf) == 0
	b.buf = append(b.buf, p...)
	b.mu.Unlock()
	if empty {
		b.first()
	}
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
