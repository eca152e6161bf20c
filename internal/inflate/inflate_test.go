package inflate

import (
	"bufio"
	"bytes"
	"compress/flate"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os/exec"
	"strings"
	"testing"
)

// sample returns n bytes of data that compresses like mail does: words,
// header-like lines, and runs of random bytes.
func sample(rng *rand.Rand, n int) []byte {
	words := []string{"Subject: ", "Received: from ", "the ", "message ", "UID FETCH ", "BODY.PEEK[] ", "\r\n", "quarterly ", "report ", "=20", "base64 "}
	var b bytes.Buffer
	for b.Len() < n {
		switch rng.IntN(4) {
		case 0:
			for range 1 + rng.IntN(40) {
				b.WriteByte(byte(rng.UintN(256)))
			}
		default:
			b.WriteString(words[rng.IntN(len(words))])
		}
	}
	return b.Bytes()[:n]
}

// readAll reads r with buffers of random sizes.
func readAll(rng *rand.Rand, r io.Reader) ([]byte, error) {
	var out []byte
	for {
		buf := make([]byte, 1+rng.IntN(5000))
		n, err := r.Read(buf)
		out = append(out, buf[:n]...)
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			return out, err
		}
	}
}

// Streams written by compress/flate at every level, flushed at random
// points, come back byte for byte, whatever the size of the reads.
func TestRoundTrip(t *testing.T) {
	for _, level := range []int{flate.HuffmanOnly, flate.NoCompression, flate.BestSpeed, 5, flate.BestCompression} {
		for seed := range uint64(3) {
			t.Run(fmt.Sprintf("level%d/seed%d", level, seed), func(t *testing.T) {
				rng := rand.New(rand.NewPCG(seed, uint64(level+10)))
				var want, comp bytes.Buffer
				w, _ := flate.NewWriter(&comp, level)
				for range 1 + rng.IntN(10) {
					d := sample(rng, rng.IntN(70000))
					want.Write(d)
					w.Write(d)
					if rng.IntN(2) == 0 {
						w.Flush()
					}
				}
				w.Close()
				got, err := readAll(rng, NewReader(bufio.NewReader(&comp)))
				if err != nil {
					t.Fatal(err)
				}
				if !bytes.Equal(got, want.Bytes()) {
					t.Fatalf("got %d bytes, want %d", len(got), want.Len())
				}
			})
		}
	}
}

// errBlocked stands for a client that has sent nothing more: a decoder
// that asks for more input gets it instead of waiting.
var errBlocked = errors.New("read past what the client sent")

// cutReader gives data, then errBlocked.
type cutReader struct{ data []byte }

func (c *cutReader) Read(p []byte) (int, error) {
	if len(c.data) == 0 {
		return 0, errBlocked
	}
	n := copy(p, c.data)
	c.data = c.data[n:]
	return n, nil
}

// zlibSegments compresses chunks with Python's zlib (what mbsync and
// mutt link), each ended with its flush mode, and returns the compressed
// bytes of each.
func zlibSegments(t *testing.T, chunks [][]byte, modes []string) [][]byte {
	t.Helper()
	py, err := exec.LookPath("python3")
	if err != nil {
		t.Fatal("python3 not installed: run scripts/test, which installs it")
	}
	const script = `
import base64, json, sys, zlib
req = json.load(sys.stdin)
c = zlib.compressobj(6, zlib.DEFLATED, -15)
modes = {"sync": zlib.Z_SYNC_FLUSH, "partial": zlib.Z_PARTIAL_FLUSH, "none": zlib.Z_NO_FLUSH}
out = []
for d, m in zip(req["chunks"], req["modes"]):
    b = c.compress(base64.b64decode(d))
    if m != "none":
        b += c.flush(modes[m])
    out.append(base64.b64encode(b).decode())
json.dump(out, sys.stdout)
`
	var req struct {
		Chunks []string `json:"chunks"`
		Modes  []string `json:"modes"`
	}
	for _, c := range chunks {
		req.Chunks = append(req.Chunks, base64.StdEncoding.EncodeToString(c))
	}
	req.Modes = modes
	in, _ := json.Marshal(req)
	cmd := exec.Command(py, "-c", script)
	cmd.Stdin = bytes.NewReader(in)
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("python zlib: %v", err)
	}
	var segs []string
	if err := json.Unmarshal(out, &segs); err != nil {
		t.Fatal(err)
	}
	var res [][]byte
	for _, s := range segs {
		b, _ := base64.StdEncoding.DecodeString(s)
		res = append(res, b)
	}
	return res
}

// Cut right after any Z_SYNC_FLUSH or Z_PARTIAL_FLUSH of zlib, the
// decoder returns everything written before the flush without reading
// further (issue 11 part 3: a partial flush leaves the last bits of the
// empty block it adds unsent, and a decoder that looks ahead holds the
// command that the client waits for an answer to).
func TestHandsOverAtEveryFlush(t *testing.T) {
	for seed := range uint64(4) {
		t.Run(fmt.Sprint("seed", seed), func(t *testing.T) {
			rng := rand.New(rand.NewPCG(seed, 7))
			var chunks [][]byte
			var modes []string
			for range 30 {
				n := 1 + rng.IntN(200)
				if rng.IntN(8) == 0 {
					n = rng.IntN(40000)
				}
				chunks = append(chunks, sample(rng, n))
				modes = append(modes, []string{"sync", "partial", "partial", "none"}[rng.IntN(4)])
			}
			modes[len(modes)-1] = "partial"
			segs := zlibSegments(t, chunks, modes)
			var stream, plain []byte
			for i, seg := range segs {
				stream = append(stream, seg...)
				plain = append(plain, chunks[i]...)
				if modes[i] == "none" {
					continue
				}
				got, err := readAll(rng, NewReader(bufio.NewReader(&cutReader{data: bytes.Clone(stream)})))
				if !errors.Is(err, errBlocked) {
					t.Fatalf("after flush %d (%s): err %v, want to wait for input", i, modes[i], err)
				}
				if !bytes.Equal(got, plain) {
					t.Fatalf("after flush %d (%s): got %d bytes before waiting for input, want %d", i, modes[i], len(got), len(plain))
				}
			}
		})
	}
}

// Corrupt input is an error of kind ErrCorrupt, never a panic, and a
// stream cut short is io.ErrUnexpectedEOF.
func TestErrors(t *testing.T) {
	cases := []struct {
		name string
		in   []byte
		want error
	}{
		{"reserved block type", []byte{0x07}, ErrCorrupt},
		{"stored length complement", []byte{0x01, 0x05, 0x00, 0x00, 0x00}, ErrCorrupt},
		{"distance before start", []byte{0x03, 0x02, 0x00}, ErrCorrupt},
		{"cut in stored block", []byte{0x01, 0x05, 0x00, 0xfa, 0xff, 'a'}, io.ErrUnexpectedEOF},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := io.ReadAll(NewReader(bufio.NewReader(bytes.NewReader(tc.in))))
			if !errors.Is(err, tc.want) {
				t.Fatalf("got %v, want %v", err, tc.want)
			}
		})
	}
	// An empty stream, closed between blocks, is a clean end.
	if _, err := io.ReadAll(NewReader(bufio.NewReader(strings.NewReader("")))); err != nil {
		t.Errorf("empty input: %v", err)
	}
}

// Whatever compress/flate decodes without error, this decoder decodes to
// the same bytes; nothing panics.
func FuzzReader(f *testing.F) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, level := range []int{flate.HuffmanOnly, flate.NoCompression, flate.BestSpeed, flate.BestCompression} {
		var b bytes.Buffer
		w, _ := flate.NewWriter(&b, level)
		w.Write(sample(rng, 3000))
		w.Flush()
		w.Write([]byte("a1 NOOP\r\n"))
		w.Close()
		f.Add(b.Bytes())
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		want, werr := io.ReadAll(flate.NewReader(bytes.NewReader(in)))
		got, err := io.ReadAll(NewReader(bufio.NewReader(bytes.NewReader(in))))
		if werr == nil {
			if err != nil {
				t.Fatalf("compress/flate decodes it, we fail: %v", err)
			}
			if !bytes.Equal(got, want) {
				t.Fatalf("decoded differently: %d bytes, want %d", len(got), len(want))
			}
		}
	})
}
