package wasmbin

import (
	"errors"
	"fmt"
	"unicode/utf8"
)

// ErrTruncated is wrapped by every error caused by input that ends too early.
var ErrTruncated = errors.New("unexpected end of input")

// reader decodes the primitive encodings of the binary format from a byte
// slice. It never panics: every read checks the remaining length, and errors
// carry the absolute offset so that one message locates the problem.
type reader struct {
	buf  []byte
	pos  int
	base int // offset of buf[0] in the whole module, for error messages
}

func newReader(b []byte, base int) *reader { return &reader{buf: b, base: base} }

func (r *reader) errorf(format string, args ...any) error {
	return fmt.Errorf("offset %#x: %s", r.base+r.pos, fmt.Sprintf(format, args...))
}

func (r *reader) truncated(what string) error {
	return fmt.Errorf("offset %#x: %s: %w", r.base+r.pos, what, ErrTruncated)
}

func (r *reader) len() int   { return len(r.buf) - r.pos }
func (r *reader) done() bool { return r.pos >= len(r.buf) }

func (r *reader) byte(what string) (byte, error) {
	if r.pos >= len(r.buf) {
		return 0, r.truncated(what)
	}
	b := r.buf[r.pos]
	r.pos++
	return b, nil
}

func (r *reader) bytes(n int, what string) ([]byte, error) {
	if n < 0 || n > r.len() {
		return nil, r.truncated(what)
	}
	b := r.buf[r.pos : r.pos+n]
	r.pos += n
	return b, nil
}

// uleb reads an unsigned LEB128 of at most bits bits, rejecting over-long
// encodings and set bits beyond the width, as the spec requires.
func (r *reader) uleb(bits uint, what string) (uint64, error) {
	var v uint64
	maxBytes := (bits + 6) / 7
	for i := uint(0); ; i++ {
		b, err := r.byte(what)
		if err != nil {
			return 0, err
		}
		v |= uint64(b&0x7f) << (7 * i)
		if i == maxBytes-1 {
			if b&0x80 != 0 {
				return 0, r.errorf("%s: integer representation too long", what)
			}
			if allowed := bits - 7*i; allowed < 7 && b>>allowed != 0 {
				return 0, r.errorf("%s: integer too large", what)
			}
			return v, nil
		}
		if b&0x80 == 0 {
			return v, nil
		}
	}
}

func (r *reader) u32(what string) (uint32, error) {
	v, err := r.uleb(32, what)
	return uint32(v), err
}

// sleb reads a signed LEB128 of at most bits bits, with the same strictness.
func (r *reader) sleb(bits uint, what string) (int64, error) {
	var v int64
	maxBytes := (bits + 6) / 7
	for i := uint(0); ; i++ {
		b, err := r.byte(what)
		if err != nil {
			return 0, err
		}
		v |= int64(b&0x7f) << (7 * i)
		last := b&0x80 == 0
		if i == maxBytes-1 {
			if !last {
				return 0, r.errorf("%s: integer representation too long", what)
			}
			if allowed := bits - 7*i; allowed < 7 {
				// Bits from the sign bit upwards must all be equal.
				hi := b & 0x7f >> (allowed - 1)
				if hi != 0 && hi != 0x7f>>(allowed-1) {
					return 0, r.errorf("%s: integer too large", what)
				}
			}
		}
		if last {
			if shift := 7 * (i + 1); shift < 64 && b&0x40 != 0 {
				v |= -1 << shift
			}
			return v, nil
		}
	}
}

// count reads a vector length and checks it against the bytes left, assuming
// every element takes at least minSize bytes; this bounds every allocation by
// the input size.
func (r *reader) count(minSize int, what string) (int, error) {
	n, err := r.u32(what)
	if err != nil {
		return 0, err
	}
	if minSize < 1 {
		minSize = 1
	}
	if uint64(n)*uint64(minSize) > uint64(r.len()) {
		return 0, r.errorf("%s: count %d exceeds the %d bytes left", what, n, r.len())
	}
	return int(n), nil
}

func (r *reader) name(what string) (string, error) {
	n, err := r.u32(what)
	if err != nil {
		return "", err
	}
	if uint64(n) > uint64(r.len()) {
		return "", r.truncated(what)
	}
	b, _ := r.bytes(int(n), what)
	if !utf8.Valid(b) {
		return "", r.errorf("%s: name is not valid UTF-8", what)
	}
	return string(b), nil
}

// appendU32 appends the minimal unsigned LEB128 encoding of v.
func appendU32(b []byte, v uint32) []byte { return appendU64(b, uint64(v)) }

func appendU64(b []byte, v uint64) []byte {
	for {
		c := byte(v & 0x7f)
		v >>= 7
		if v != 0 {
			b = append(b, c|0x80)
			continue
		}
		return append(b, c)
	}
}

// appendS64 appends the minimal signed LEB128 encoding of v.
func appendS64(b []byte, v int64) []byte {
	for {
		c := byte(v & 0x7f)
		v >>= 7
		if (v == 0 && c&0x40 == 0) || (v == -1 && c&0x40 != 0) {
			return append(b, c)
		}
		b = append(b, c|0x80)
	}
}

func appendName(b []byte, s string) []byte {
	b = appendU32(b, uint32(len(s)))
	return append(b, s...)
}

// AppendU32 appends the minimal unsigned LEB128 encoding of v to b.
func AppendU32(b []byte, v uint32) []byte { return appendU32(b, v) }

// AppendS32 appends the minimal signed LEB128 encoding of v to b.
func AppendS32(b []byte, v int32) []byte { return appendS64(b, int64(v)) }

// AppendS64 appends the minimal signed LEB128 encoding of v to b.
func AppendS64(b []byte, v int64) []byte { return appendS64(b, v) }

// AppendName appends a length-prefixed name.
func AppendName(b []byte, s string) []byte { return appendName(b, s) }
