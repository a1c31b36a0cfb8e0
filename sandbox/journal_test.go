package sandbox

import (
	"os"
	"path/filepath"
	"testing"
)

func TestJournalKeepsLastVersionAndSkipsTornLine(t *testing.T) {
	dir := t.TempDir()
	j, entries, err := openJournal(dir)
	if err != nil || len(entries) != 0 {
		t.Fatalf("open empty: %v, %d entries", err, len(entries))
	}
	steps := []func() error{
		func() error { return j.put("x", "a", map[string]int{"v": 1}) },
		func() error { return j.put("x", "a", map[string]int{"v": 2}) },
		func() error { return j.put("x", "b", map[string]int{"v": 3}) },
		func() error { return j.del("x", "b") },
		j.close,
	}
	for _, step := range steps {
		if err := step(); err != nil {
			t.Fatal(err)
		}
	}
	// A crash in the middle of a write leaves a line without its newline.
	f, err := os.OpenFile(filepath.Join(dir, journalFile), os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteString(`{"k":"x","id":"a","v":{"v":`)
	f.Close()

	j, entries, err = openJournal(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer j.close()
	if len(entries) != 1 || entries[0].ID != "a" || string(entries[0].V) != `{"v":2}` {
		t.Fatalf("entries = %+v, want only a at version 2", entries)
	}
}
