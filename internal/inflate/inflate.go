// Package inflate decompresses a raw DEFLATE stream (RFC 1951) that
// arrives over a connection, as IMAP COMPRESS=DEFLATE (RFC 4978) sends it:
// a Reader hands over every byte it has decompressed before it waits for
// more input.
//
// Why not compress/flate or klauspost/compress/flate: clients flush their
// compressor after each command with zlib's Z_SYNC_FLUSH or, like mutt and
// mbsync, Z_PARTIAL_FLUSH. A partial flush ends the block and adds an empty
// fixed-code block of only 10 bits, of which up to 7 stay in the client's
// bit buffer until its next write. compress/flate returns data only at a
// sync flush (an empty stored block) or when its window fills, and
// klauspost's decoder, even with WithPartialBlock, reads up to 15 bits
// ahead of the symbol it decodes: both hold a complete command until the
// client sends something more, and the client waits for the answer. This
// decoder reads no bit before a symbol needs it and returns its output at
// the end of every block, and whenever its input would block.
package inflate

import (
	"bufio"
	"errors"
	"fmt"
	"io"
)

// ErrCorrupt is the kind of error for input that is not valid DEFLATE.
var ErrCorrupt = errors.New("corrupt DEFLATE data")

const (
	maxBits    = 15      // longest Huffman code (RFC 1951 section 3.2.2)
	windowSize = 1 << 15 // distances reach back 32 KiB (section 3.2.5)
	fastBits   = 9       // codes up to this long are found by table lookup
	maxLitLen  = 286 + 2 // literal/length alphabet (with 2 unused codes)
	maxDist    = 30 + 2  // distance alphabet (with 2 unused codes)
	numCLCodes = 19      // code length alphabet (section 3.2.7)
)

// What Read does next.
const (
	stateHead   = iota // read a block header
	stateStored        // copy a stored block
	stateHuff          // decode a Huffman-coded block
	stateDone          // the final block has ended
)

// Reader decompresses a raw DEFLATE stream. It is not safe for concurrent
// use.
type Reader struct {
	src   *bufio.Reader
	bits  uint64 // input bits not yet used, the next in the lowest bit
	nb    uint   // how many of them
	state int
	final bool // the current block is the last
	err   error

	stored int // bytes left in a stored block

	lit, dist *huffman
	fixedLit  *huffman // built on first use
	fixedDist *huffman
	dynLit    huffman
	dynDist   huffman

	copyLen  int // bytes left of a match being copied
	copyDist int

	hist  [windowSize]byte // the last 32 KiB of output
	hpos  int              // next write position in hist
	total int64            // bytes of output so far
}

// NewReader returns a Reader of the raw DEFLATE stream in src. Bytes of
// src after the end of the stream are left in src.
func NewReader(src *bufio.Reader) *Reader {
	return &Reader{src: src, state: stateHead}
}

// Read decompresses into p. It returns as soon as it has output and the
// next step would need input that src has not yet buffered, and at the
// end of every block that produced output; it blocks on src only when it
// has nothing to return. At the end of the stream it returns io.EOF; a
// stream cut short gives io.ErrUnexpectedEOF, invalid data an error of
// kind ErrCorrupt.
func (r *Reader) Read(p []byte) (int, error) {
	n := 0
	for n < len(p) {
		if r.err != nil {
			if n > 0 {
				return n, nil
			}
			return 0, r.err
		}
		switch r.state {
		case stateHead:
			if n > 0 {
				// Hand over the block's data before reading the next
				// header: after a partial flush its bits may not have
				// been sent yet.
				return n, nil
			}
			r.header()
		case stateStored:
			k, ok := r.readStored(p[n:], n == 0)
			n += k
			if !ok {
				return n, nil
			}
		case stateHuff:
			if r.copyLen > 0 {
				n += r.copyMatch(p[n:])
				continue
			}
			if !r.symbol(p, &n) {
				return n, nil
			}
		case stateDone:
			r.err = io.EOF
		}
	}
	return n, nil
}

// need makes sure at least k bits are buffered, reading bytes from src.
// When mayBlock is false it reads only bytes src already holds, and
// reports false rather than wait; it reports false on a read error too,
// recorded in r.err.
func (r *Reader) need(k uint, mayBlock bool) bool {
	for r.nb < k {
		if !mayBlock && r.src.Buffered() == 0 {
			return false
		}
		c, err := r.src.ReadByte()
		if err != nil {
			if err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			r.err = err
			return false
		}
		r.bits |= uint64(c) << r.nb
		r.nb += 8
	}
	return true
}

// take removes and returns the next k bits; need(k) must have succeeded.
func (r *Reader) take(k uint) uint32 {
	v := uint32(r.bits & (1<<k - 1))
	r.bits >>= k
	r.nb -= k
	return v
}

func (r *Reader) corrupt(format string, args ...any) {
	r.err = fmt.Errorf("%w: %s at output byte %d", ErrCorrupt, fmt.Sprintf(format, args...), r.total)
}

// header reads a block header (RFC 1951 section 3.2.3) and, for a
// dynamic block, its code tables. It may block: nothing is waiting to be
// returned when it runs.
func (r *Reader) header() {
	if r.final {
		r.state = stateDone
		return
	}
	if r.nb == 0 {
		// A stream that ends between blocks, where a client closes the
		// connection, is a clean end for the caller.
		if _, err := r.src.Peek(1); err == io.EOF {
			r.err = io.EOF
			return
		}
	}
	if !r.need(3, true) {
		return
	}
	r.final = r.take(1) == 1
	switch r.take(2) {
	case 0:
		// Stored: skip to a byte boundary, then LEN and NLEN (section
		// 3.2.4).
		r.take(r.nb % 8)
		if !r.need(32, true) {
			return
		}
		length, nlength := r.take(16), r.take(16)
		if length != ^nlength&0xffff {
			r.corrupt("stored block length %d does not match its complement", length)
			return
		}
		r.stored = int(length)
		r.state = stateStored
	case 1:
		if r.fixedLit == nil {
			r.fixedLit, r.fixedDist = fixedTables()
		}
		r.lit, r.dist = r.fixedLit, r.fixedDist
		r.state = stateHuff
	case 2:
		if r.dynamicTables() {
			r.lit, r.dist = &r.dynLit, &r.dynDist
			r.state = stateHuff
		}
	default:
		r.corrupt("reserved block type 3")
	}
}

// clOrder is the order of the code length code lengths (section 3.2.7).
var clOrder = [numCLCodes]uint8{16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1, 15}

// dynamicTables reads the code tables of a dynamic block (section 3.2.7).
func (r *Reader) dynamicTables() bool {
	if !r.need(14, true) {
		return false
	}
	nlit := int(r.take(5)) + 257
	ndist := int(r.take(5)) + 1
	nclen := int(r.take(4)) + 4
	if nlit > 286 || ndist > 30 {
		r.corrupt("%d literal/length or %d distance codes", nlit, ndist)
		return false
	}
	var cl [numCLCodes]uint8
	for i := range nclen {
		if !r.need(3, true) {
			return false
		}
		cl[clOrder[i]] = uint8(r.take(3))
	}
	var clh huffman
	if err := clh.init(cl[:]); err != nil {
		r.corrupt("code length code: %v", err)
		return false
	}
	var lengths [maxLitLen + maxDist]uint8
	for i := 0; i < nlit+ndist; {
		sym, ok := r.decode(&clh, true)
		if !ok {
			return false
		}
		if sym < 16 {
			lengths[i] = uint8(sym)
			i++
			continue
		}
		var rep int
		var val uint8
		switch sym {
		case 16:
			if i == 0 {
				r.corrupt("repeat with no previous length")
				return false
			}
			if !r.need(2, true) {
				return false
			}
			rep, val = 3+int(r.take(2)), lengths[i-1]
		case 17:
			if !r.need(3, true) {
				return false
			}
			rep = 3 + int(r.take(3))
		default:
			if !r.need(7, true) {
				return false
			}
			rep = 11 + int(r.take(7))
		}
		if i+rep > nlit+ndist {
			r.corrupt("code lengths repeat past the end")
			return false
		}
		for range rep {
			lengths[i] = val
			i++
		}
	}
	if lengths[256] == 0 {
		r.corrupt("no end-of-block code")
		return false
	}
	if err := r.dynLit.init(lengths[:nlit]); err != nil {
		r.corrupt("literal/length code: %v", err)
		return false
	}
	if err := r.dynDist.init(lengths[nlit : nlit+ndist]); err != nil {
		r.corrupt("distance code: %v", err)
		return false
	}
	return true
}

// readStored copies stored block data into p: the whole bytes left in the
// bit buffer first, then from src, without waiting when mayBlock is false
// and src holds nothing. It reports false when the caller must return.
func (r *Reader) readStored(p []byte, mayBlock bool) (int, bool) {
	n := 0
	for n < len(p) && r.stored > 0 && r.nb >= 8 {
		r.emit(byte(r.take(8)), p, &n)
		r.stored--
	}
	for n < len(p) && r.stored > 0 {
		b := r.src.Buffered()
		if b == 0 {
			if !mayBlock || n > 0 {
				return n, false
			}
			if _, err := r.src.Peek(1); err != nil {
				if err == io.EOF {
					err = io.ErrUnexpectedEOF
				}
				r.err = err
				return n, false
			}
			b = r.src.Buffered()
		}
		// Only what src holds: bufio.Reader.Read then does not block.
		k := min(len(p)-n, r.stored, b)
		m, _ := r.src.Read(p[n : n+k])
		for _, c := range p[n : n+m] {
			r.hist[r.hpos] = c
			r.hpos = (r.hpos + 1) & (windowSize - 1)
		}
		n += m
		r.total += int64(m)
		r.stored -= m
	}
	if r.stored == 0 {
		r.state = stateHead
	}
	return n, true
}

// emit writes one output byte to p and the history.
func (r *Reader) emit(c byte, p []byte, n *int) {
	p[*n] = c
	*n++
	r.hist[r.hpos] = c
	r.hpos = (r.hpos + 1) & (windowSize - 1)
	r.total++
}

// copyMatch copies what it can of the pending match into p.
func (r *Reader) copyMatch(p []byte) int {
	k := min(len(p), r.copyLen)
	for i := range k {
		c := r.hist[(r.hpos-r.copyDist)&(windowSize-1)]
		p[i] = c
		r.hist[r.hpos] = c
		r.hpos = (r.hpos + 1) & (windowSize - 1)
	}
	r.total += int64(k)
	r.copyLen -= k
	return k
}

// Base values and extra bits of the length codes 257..285 and the
// distance codes 0..29 (section 3.2.5).
var (
	lenBase   = [29]uint16{3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 15, 17, 19, 23, 27, 31, 35, 43, 51, 59, 67, 83, 99, 115, 131, 163, 195, 227, 258}
	lenExtra  = [29]uint8{0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 0}
	distBase  = [30]uint16{1, 2, 3, 4, 5, 7, 9, 13, 17, 25, 33, 49, 65, 97, 129, 193, 257, 385, 513, 769, 1025, 1537, 2049, 3073, 4097, 6145, 8193, 12289, 16385, 24577}
	distExtra = [30]uint8{0, 0, 0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7, 8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13, 13}
)

// symbol decodes one literal/length symbol of a Huffman block and what
// follows it, writing a literal to p. It reports false when Read must
// return: an error, or input not yet there while *n bytes wait.
func (r *Reader) symbol(p []byte, n *int) bool {
	sym, ok := r.decode(r.lit, *n == 0)
	if !ok {
		return false
	}
	switch {
	case sym < 256:
		r.emit(byte(sym), p, n)
		return true
	case sym == 256:
		r.state = stateHead
		return true
	case sym > 285:
		r.corrupt("invalid length code %d", sym)
		return false
	}
	// A match: its extra bits and distance were sent with the length
	// symbol, before any flush, so waiting for them cannot stall.
	i := sym - 257
	if !r.need(uint(lenExtra[i]), true) {
		return false
	}
	length := int(lenBase[i]) + int(r.take(uint(lenExtra[i])))
	d, ok := r.decode(r.dist, true)
	if !ok {
		return false
	}
	if d >= 30 {
		r.corrupt("invalid distance code %d", d)
		return false
	}
	if !r.need(uint(distExtra[d]), true) {
		return false
	}
	dist := int(distBase[d]) + int(r.take(uint(distExtra[d])))
	if int64(dist) > r.total {
		r.corrupt("distance %d before the start of the stream", dist)
		return false
	}
	r.copyLen, r.copyDist = length, dist
	return true
}

// decode reads one symbol of h, reading input a byte at a time only
// while the bits held do not yet form a complete code.
func (r *Reader) decode(h *huffman, mayBlock bool) (int, bool) {
	for {
		sym, k := h.decode(r.bits, r.nb)
		switch {
		case k > 0:
			r.take(uint(k))
			return sym, true
		case k < 0 || r.nb >= maxBits:
			r.corrupt("invalid Huffman code")
			return 0, false
		}
		if !r.need(r.nb+1, mayBlock) {
			return 0, false
		}
	}
}

// huffman is a canonical Huffman code (section 3.2.2).
type huffman struct {
	count  [maxBits + 1]uint16 // codes of each length
	symbol []uint16            // symbols in code order
	// fast maps the next fastBits input bits to sym<<4 | length for
	// codes up to fastBits long; 0 where a longer code starts.
	fast [1 << fastBits]uint16
}

// init builds the code from the code length of each symbol (0: unused).
// An over-subscribed set of lengths is an error; an incomplete one is
// allowed (a single distance code is common), and its unused codes fail
// when met.
func (h *huffman) init(lengths []uint8) error {
	h.count = [maxBits + 1]uint16{}
	for _, l := range lengths {
		h.count[l]++
	}
	h.count[0] = 0
	left := 1
	for l := 1; l <= maxBits; l++ {
		left = left<<1 - int(h.count[l])
		if left < 0 {
			return errors.New("over-subscribed code lengths")
		}
	}
	var offs [maxBits + 2]uint16
	for l := 1; l <= maxBits; l++ {
		offs[l+1] = offs[l] + h.count[l]
	}
	if need := int(offs[maxBits+1]); cap(h.symbol) < need {
		h.symbol = make([]uint16, need)
	} else {
		h.symbol = h.symbol[:need]
	}
	for sym, l := range lengths {
		if l != 0 {
			h.symbol[offs[l]] = uint16(sym)
			offs[l]++
		}
	}
	h.fast = [1 << fastBits]uint16{}
	code, index := 0, 0
	for l := 1; l <= fastBits; l++ {
		for range int(h.count[l]) {
			rev := reverse(code, l)
			for i := rev; i < 1<<fastBits; i += 1 << l {
				h.fast[i] = h.symbol[index]<<4 | uint16(l)
			}
			code++
			index++
		}
		code <<= 1
	}
	return nil
}

func reverse(code, n int) int {
	r := 0
	for range n {
		r = r<<1 | code&1
		code >>= 1
	}
	return r
}

// decode finds the symbol whose code starts bits (nb of them valid). It
// returns its length in bits, 0 when more bits are needed, or -1 for a
// code that is not in the table.
func (h *huffman) decode(bits uint64, nb uint) (int, int) {
	if e := h.fast[bits&(1<<fastBits-1)]; e != 0 {
		if l := uint(e & 15); l <= nb {
			return int(e >> 4), int(l)
		}
		return 0, 0
	}
	// Longer codes, a bit at a time: in canonical order the codes of
	// each length follow those of the length before (section 3.2.2).
	code, first, index := 0, 0, 0
	for l := 1; l <= maxBits; l++ {
		if uint(l) > nb {
			return 0, 0
		}
		code |= int(bits>>(l-1)) & 1
		count := int(h.count[l])
		if code-first < count {
			return int(h.symbol[index+code-first]), l
		}
		index += count
		first = (first + count) << 1
		code <<= 1
	}
	return 0, -1
}

// fixedTables returns the fixed codes of section 3.2.6.
func fixedTables() (*huffman, *huffman) {
	var l [288]uint8
	for i := range l {
		switch {
		case i < 144:
			l[i] = 8
		case i < 256:
			l[i] = 9
		case i < 280:
			l[i] = 7
		default:
			l[i] = 8
		}
	}
	var d [30]uint8
	for i := range d {
		d[i] = 5
	}
	lit, dist := new(huffman), new(huffman)
	lit.init(l[:])
	dist.init(d[:])
	return lit, dist
}
