package sandbox

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
)

// journalFile is the name of the state file inside the data directory.
const journalFile = "sandbox.jsonl"

// journal persists state as an append-only file of JSON lines, one per
// object version: the last line for a (kind, id) wins. Appending keeps a write
// O(size of the object) however large the state grows; the file is compacted
// once at start. Lines are not fsynced: the sandbox must survive its own
// crash or restart, not a power cut.
type journal struct {
	f *os.File
}

type journalEntry struct {
	Kind string          `json:"k"`
	ID   string          `json:"id"`
	Del  bool            `json:"del,omitempty"`
	V    json.RawMessage `json:"v,omitempty"`
}

// openJournal reads the journal in dir, compacts it and opens it for
// appending. It returns the live entries in a stable order.
func openJournal(dir string) (*journal, []journalEntry, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, nil, fmt.Errorf("open journal: %w", err)
	}
	path := filepath.Join(dir, journalFile)
	entries, err := readJournal(path)
	if err != nil {
		return nil, nil, err
	}
	tmp := path + ".tmp"
	if err := writeJournal(tmp, entries); err != nil {
		return nil, nil, err
	}
	if err := os.Rename(tmp, path); err != nil {
		return nil, nil, fmt.Errorf("compact journal: %w", err)
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return nil, nil, fmt.Errorf("open journal: %w", err)
	}
	return &journal{f: f}, entries, nil
}

func readJournal(path string) ([]journalEntry, error) {
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read journal: %w", err)
	}
	defer f.Close()
	type key struct{ kind, id string }
	latest := map[key]journalEntry{}
	r := bufio.NewReader(f)
	for n := 1; ; n++ {
		line, err := r.ReadBytes('\n')
		if errors.Is(err, io.EOF) {
			// A last line without its newline is a write cut short by a
			// crash: the object keeps its previous version.
			break
		}
		if err != nil {
			return nil, fmt.Errorf("read journal: %w", err)
		}
		line = bytes.TrimSpace(line)
		if len(line) == 0 {
			continue
		}
		var e journalEntry
		if err := json.Unmarshal(line, &e); err != nil {
			return nil, fmt.Errorf("read journal %s line %d: %w", path, n, err)
		}
		if e.Del {
			delete(latest, key{e.Kind, e.ID})
			continue
		}
		latest[key{e.Kind, e.ID}] = e
	}
	out := make([]journalEntry, 0, len(latest))
	for _, e := range latest {
		out = append(out, e)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Kind != out[j].Kind {
			return out[i].Kind < out[j].Kind
		}
		return out[i].ID < out[j].ID
	})
	return out, nil
}

func writeJournal(path string, entries []journalEntry) error {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o600)
	if err != nil {
		return fmt.Errorf("compact journal: %w", err)
	}
	w := bufio.NewWriter(f)
	for _, e := range entries {
		b, err := json.Marshal(e)
		if err != nil {
			f.Close()
			return fmt.Errorf("compact journal: %w", err)
		}
		w.Write(b)
		w.WriteByte('\n')
	}
	if err := w.Flush(); err != nil {
		f.Close()
		return fmt.Errorf("compact journal: %w", err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("compact journal: %w", err)
	}
	return f.Close()
}

// put appends the current version of an object.
func (j *journal) put(kind, id string, v any) error {
	if j == nil {
		return nil
	}
	raw, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("journal %s %s: %w", kind, id, err)
	}
	return j.append(journalEntry{Kind: kind, ID: id, V: raw})
}

// del records that an object is gone.
func (j *journal) del(kind, id string) error {
	if j == nil {
		return nil
	}
	return j.append(journalEntry{Kind: kind, ID: id, Del: true})
}

func (j *journal) append(e journalEntry) error {
	b, err := json.Marshal(e)
	if err != nil {
		return fmt.Errorf("journal %s %s: %w", e.Kind, e.ID, err)
	}
	b = append(b, '\n')
	if _, err := j.f.Write(b); err != nil {
		return fmt.Errorf("journal %s %s: %w", e.Kind, e.ID, err)
	}
	return nil
}

func (j *journal) close() error {
	if j == nil {
		return nil
	}
	return j.f.Close()
}
