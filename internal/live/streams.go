package live

import (
	"errors"
	"sync"
)

// ErrTooManyStreams and ErrTooManyClientStreams are Streams.Open's refusals:
// the service's bound (MAX_STREAMS) and one client's (MAX_STREAMS_PER_CLIENT).
var (
	ErrTooManyStreams       = errors.New("live: too many open streams")
	ErrTooManyClientStreams = errors.New("live: too many open streams for this client")
)

// Streams counts the open streams, in all and per client, within bounds.
// It is safe for concurrent use.
type Streams struct {
	max, perClient int
	onCount        func(open int)

	mu       sync.Mutex
	open     int
	byClient map[string]int
}

// NewStreams bounds the open streams to max in all and perClient per client
// (0: no bound). onCount, when set, is told the count after each change,
// under the lock (so in order): keep it cheap.
func NewStreams(max, perClient int, onCount func(open int)) *Streams {
	return &Streams{max: max, perClient: perClient, onCount: onCount, byClient: map[string]int{}}
}

// Open counts a new stream of client, or refuses it over a bound; release
// (idempotent) ends it.
func (s *Streams) Open(client string) (release func(), err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.max > 0 && s.open >= s.max {
		return nil, ErrTooManyStreams
	}
	if s.perClient > 0 && s.byClient[client] >= s.perClient {
		return nil, ErrTooManyClientStreams
	}
	s.open++
	s.byClient[client]++
	if s.onCount != nil {
		s.onCount(s.open)
	}
	var once sync.Once
	return func() {
		once.Do(func() {
			s.mu.Lock()
			defer s.mu.Unlock()
			s.open--
			if s.byClient[client]--; s.byClient[client] <= 0 {
				delete(s.byClient, client)
			}
			if s.onCount != nil {
				s.onCount(s.open)
			}
		})
	}, nil
}

// Count is the number of open streams.
func (s *Streams) Count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.open
}
