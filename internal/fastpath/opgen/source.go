package opgen

// Source hands out the choices of one generated operation, a byte at a time,
// from a fuzzer's input. Once the input is used up every choice is 0, and the
// generator makes choice 0 the simplest one (stop adding selections, no alias,
// no directive), so that every input, even an empty one, gives a valid
// operation, and a shorter or zeroed input gives a smaller one: that is what
// lets the fuzzer's minimiser shrink a failing input to a small query.
type Source struct {
	data []byte
}

// NewSource returns a Source reading data. It does not modify data.
func NewSource(data []byte) *Source { return &Source{data: data} }

// Len reports how many bytes are left.
func (s *Source) Len() int { return len(s.data) }

func (s *Source) byte() byte {
	if len(s.data) == 0 {
		return 0
	}
	b := s.data[0]
	s.data = s.data[1:]
	return b
}

// intn returns a choice in [0, n), 0 when the input is used up. One byte for
// n up to 256, two beyond; the modulo bias does not matter to a fuzzer.
func (s *Source) intn(n int) int {
	switch {
	case n <= 1:
		return 0
	case n <= 256:
		return int(s.byte()) % n
	default:
		return (int(s.byte())<<8 | int(s.byte())) % n
	}
}

// pick returns one of items, the first when the input is used up; items must
// not be empty.
func pick[T any](s *Source, items []T) T { return items[s.intn(len(items))] }
