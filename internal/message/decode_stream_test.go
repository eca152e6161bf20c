package message

import (
	"bytes"
	"errors"
	"io"
	"math/rand/v2"
	"strings"
	"testing"
	"testing/iotest"
)

// TestNewDecoderAsDecode: a body decoded piece by piece, with pieces as
// small as a few bytes and reads of one byte, is what Decode makes of it
// whole, for well-formed and broken base64 and quoted-printable.
func TestNewDecoderAsDecode(t *testing.T) {
	bodies := map[string][]string{
		"BASE64": {
			"", "QQ==", "SGVsbG8gd29ybGQ=\r\n", "SGVs\r\nbG8g\r\nd29y\r\nbGQ=\r\n",
			"SGVsbG8gd29ybGQ=!!!@@@ not base64 ==== SGk=", "QQ=QQ=QQ", "Q", "QUJD\r\n=\r\n",
		},
		"QUOTED-PRINTABLE": {
			"", "Caf=E9 =\r\nau lait  \r\nx", "=", "=4", "=41", "a=\r\n", "a =  \r\nb", "trailing  ",
			"=zz=3d=3D\r\n", "a\t \r\r\nb", "= \t\r\nsoft", strings.Repeat("x=41 ", 40),
		},
		"7BIT": {"as is =41"},
	}
	// Random bodies made of tokens joined by two plain bytes that are no
	// hex digits, so that every piece of 8 bytes or more has a place to
	// cut (qpCut).
	rng := rand.New(rand.NewPCG(1, 2))
	tokens := []string{"=", "=4", "=41", "=e9", "=\r\n", " ", "\t ", "\r\n", "  \r\n", "=\r", "QUJD", "Q", "==", "!"}
	for range 200 {
		var b strings.Builder
		for range rng.IntN(60) {
			b.WriteString(tokens[rng.IntN(len(tokens))])
			b.WriteString([]string{"xy", "+/", "Zz", "!?"}[rng.IntN(4)])
		}
		bodies["BASE64"] = append(bodies["BASE64"], b.String())
		bodies["QUOTED-PRINTABLE"] = append(bodies["QUOTED-PRINTABLE"], b.String())
	}
	for enc, list := range bodies {
		for _, body := range list {
			want, _ := decodeBody([]byte(body), enc)
			for _, piece := range []int{8, 13, 64, decodePiece} {
				for _, one := range []bool{false, true} {
					var r io.Reader = strings.NewReader(body)
					if one {
						r = iotest.OneByteReader(r)
					}
					d, err := newDecoder(r, enc, piece)
					if err != nil {
						t.Fatal(err)
					}
					got, err := io.ReadAll(d)
					if err != nil || !bytes.Equal(got, want) {
						t.Fatalf("%s %q in pieces of %d (one-byte reads %v): %q, %v; Decode: %q", enc, body, piece, one, got, err, want)
					}
				}
			}
		}
	}
}

// TestNewDecoderBounded: a large body is decoded holding one piece at a
// time; an unknown encoding gives the body as written with
// ErrUnknownEncoding; a read error is passed on.
func TestNewDecoderBounded(t *testing.T) {
	line := strings.Repeat("QUJD", 19) + "\r\n"
	n := 0
	body := io.MultiReader(iotest.OneByteReader(strings.NewReader(line)), &repeater{line: line, left: 100000, read: &n})
	d, err := NewDecoder(body, "base64")
	if err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 100)
	got, err := io.ReadFull(d, buf)
	if err != nil || string(buf[:got]) != strings.Repeat("ABC", 33)+"A" {
		t.Fatalf("first read: %q, %v", buf[:got], err)
	}
	if n > decodePiece {
		t.Errorf("%d bytes read from the body for the first 100 decoded: more than a piece", n)
	}
	if _, err := NewDecoder(strings.NewReader("x"), "x-uuencode"); !errors.Is(err, ErrUnknownEncoding) {
		t.Errorf("unknown encoding: %v", err)
	}
	boom := errors.New("disk gone")
	d, _ = NewDecoder(iotest.ErrReader(boom), "quoted-printable")
	if _, err := io.ReadAll(d); !errors.Is(err, boom) {
		t.Errorf("read error: %v", err)
	}
}

// repeater gives line left times, counting the bytes read.
type repeater struct {
	line string
	left int
	read *int
	r    strings.Reader
}

func (r *repeater) Read(p []byte) (int, error) {
	if r.r.Len() == 0 {
		if r.left == 0 {
			return 0, io.EOF
		}
		r.left--
		r.r.Reset(r.line)
	}
	n, err := r.r.Read(p)
	*r.read += n
	return n, err
}
