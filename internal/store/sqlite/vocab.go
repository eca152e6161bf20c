package sqlite

import (
	"context"
	"fmt"
	"iter"
	"strings"
	"sync"

	"github.com/xtramail/xtramail/internal/message"
)

// vocabulary is the set of words in the full-text index, in memory, with
// about how many bodies hold each, so that a substring search finds the
// words containing a fragment without scanning the index's vocabulary on
// disk (about 260 ms for 100,000 messages, against a few ms here), and
// knows how many candidates a query may give. It is loaded on the first
// search and then extended as messages are indexed. Words and counts of
// purged messages stay: the set only serves to find candidates, which
// callers check, and to estimate.
//
// The words are also kept in one text, each followed by a line break,
// where a fragment is found by strings.Index: looking at each word of a
// map in turn cost 5 ms per fragment at 100,000 messages (200,000 words),
// a third of a SEARCH TO (issue 11 part 6).
//
// The words that message.FoldAccents changes ("résumé") are kept a second
// time in bases, as "resume\trésumé\n", for the webmail's search, which
// ignores accents (containingBase): the index keeps words as written, so
// a search for "resume" finds "résumé" here, with no second index and no
// reindex.
type vocabulary struct {
	mu      sync.RWMutex
	state   vocabState
	words   map[string]int // word: bodies with it (an upper bound)
	text    strings.Builder
	bases   strings.Builder
	pending []string      // words indexed while loading, once per body and column
	loaded  chan struct{} // closed when state becomes vocabLoaded
}

type vocabState int

const (
	vocabEmpty vocabState = iota
	vocabLoading
	vocabLoaded
)

// add records the words of newly committed index rows. Before the first
// search nothing is kept: the load reads them from the index.
func (v *vocabulary) add(rows []ftsRow) {
	v.mu.RLock()
	state := v.state
	v.mu.RUnlock()
	if state == vocabEmpty || len(rows) == 0 {
		return
	}
	var words []string
	for i := range rows {
		words = append(words, rows[i].words()...)
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	switch v.state {
	case vocabLoading:
		v.pending = append(v.pending, words...)
	case vocabLoaded:
		for _, w := range words {
			v.count(w)
		}
	}
}

// count adds one body to a word's count, and a new word to the text.
// Called with mu held for writing.
func (v *vocabulary) count(w string) {
	n, ok := v.words[w]
	if !ok {
		v.write(w)
	}
	v.words[w] = n + 1
}

// write adds a new word to the texts that containing and containingBase
// look in. Called with mu held for writing.
func (v *vocabulary) write(w string) {
	v.text.WriteString(w)
	v.text.WriteByte('\n')
	if b := message.FoldAccents(w); b != w {
		v.bases.WriteString(b)
		v.bases.WriteByte('\t')
		v.bases.WriteString(w)
		v.bases.WriteByte('\n')
	}
}

// ensure loads the set from the index once.
func (v *vocabulary) ensure(ctx context.Context, s *Store) error {
	v.mu.Lock()
	switch v.state {
	case vocabLoaded:
		v.mu.Unlock()
		return nil
	case vocabLoading:
		ch := v.loaded
		v.mu.Unlock()
		select {
		case <-ch:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	v.state, v.loaded = vocabLoading, make(chan struct{})
	v.mu.Unlock()

	words := make(map[string]int)
	err := func() error {
		rows, err := s.query(context.WithoutCancel(ctx), "SELECT term, doc FROM search_fts_vocab")
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var w string
			var docs int
			if err := rows.Scan(&w, &docs); err != nil {
				return err
			}
			words[w] = docs
		}
		return rows.Err()
	}()
	v.mu.Lock()
	defer v.mu.Unlock()
	if err != nil {
		v.state = vocabEmpty
		close(v.loaded)
		return fmt.Errorf("load search vocabulary: %w", err)
	}
	v.text.Reset()
	v.bases.Reset()
	for w := range words {
		v.write(w)
	}
	v.words = words
	for _, w := range v.pending {
		v.count(w)
	}
	v.pending, v.state = nil, vocabLoaded
	close(v.loaded)
	return nil
}

// containing returns up to limit+1 words that contain frag, and the sum
// of their body counts: at most that many bodies have one of them.
func (v *vocabulary) containing(frag string, limit int) ([]string, int) {
	v.mu.RLock()
	defer v.mu.RUnlock()
	var out []string
	docs := 0
	if n, ok := v.words[frag]; ok {
		out, docs = append(out, frag), n
	}
	if strings.IndexByte(frag, '\n') >= 0 {
		return out, docs
	}
	// The words are separated by line breaks, which no word holds: each
	// hit lies in one word.
	for w := range linesWith(v.text.String(), frag) {
		if w != frag {
			docs += v.words[w]
			if out = append(out, w); len(out) > limit {
				break
			}
		}
	}
	return out, docs
}

// containingBase is containing for a fragment in message.FoldAccents
// form, ignoring accents: up to limit+1 words whose own form or whose
// FoldAccents form contains frag ("sume" finds "resume" and "résumé"),
// and the sum of their body counts.
func (v *vocabulary) containingBase(frag string, limit int) ([]string, int) {
	out, docs := v.containing(frag, limit)
	if len(out) > limit || strings.ContainsAny(frag, "\t\n") {
		return out, docs
	}
	seen := make(map[string]bool, len(out))
	for _, w := range out {
		seen[w] = true
	}
	v.mu.RLock()
	defer v.mu.RUnlock()
	// Each line is "base\tword": a hit in either half (no word holds a
	// tab) stands for the word, whose base or own form contains frag.
	for line := range linesWith(v.bases.String(), frag) {
		_, w, _ := strings.Cut(line, "\t")
		if !seen[w] {
			seen[w] = true
			docs += v.words[w]
			if out = append(out, w); len(out) > limit {
				break
			}
		}
	}
	return out, docs
}

// linesWith yields each line of text (lines end in a line break) that
// contains frag, which holds no line break, once, in order.
func linesWith(text, frag string) iter.Seq[string] {
	return func(yield func(string) bool) {
		for i := 0; i < len(text); {
			j := strings.Index(text[i:], frag)
			if j < 0 {
				return
			}
			j += i
			start := strings.LastIndexByte(text[:j], '\n') + 1
			end := j + strings.IndexByte(text[j:], '\n')
			if !yield(text[start:end]) {
				return
			}
			i = end + 1
		}
	}
}
