package host

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
)

// ManifestFile is the name of the manifest inside the plugin directory.
const ManifestFile = "manifest.json"

// Entry is one connector in the manifest.
//
//	[{"name": "cardnet", "binary": "cardnet", "sha256": "9f86…",
//	  "config": {"base_url": "http://127.0.0.1:8090", "api_key": "${SANDBOX_API_KEY}"}}]
//
// Config values may name environment variables of Strait's process as
// ${NAME}; the host resolves them and hands the values to the plugin
// through Configure. The plugin's own environment never holds them.
type Entry struct {
	Name    string            `json:"name"`
	Binary  string            `json:"binary"` // relative to the plugin directory, or absolute
	SHA256  string            `json:"sha256"` // hex checksum of the binary
	Config  map[string]string `json:"config,omitempty"`
	Enabled *bool             `json:"enabled,omitempty"` // default true
}

var namePattern = regexp.MustCompile(`^[a-z][a-z0-9_-]{0,62}$`)

// ReadManifest reads and strictly decodes dir/manifest.json: an unknown
// field, a duplicate name or a malformed checksum is an error.
func ReadManifest(dir string) ([]Entry, error) {
	path := filepath.Join(dir, ManifestFile)
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read manifest: %w", err)
	}
	entries, err := DecodeManifest(b)
	if err != nil {
		return nil, fmt.Errorf("manifest %s: %w", path, err)
	}
	return entries, nil
}

// DecodeManifest strictly decodes a manifest.
func DecodeManifest(b []byte) ([]Entry, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	var entries []Entry
	if err := dec.Decode(&entries); err != nil {
		return nil, fmt.Errorf("decode: %w", err)
	}
	if dec.More() {
		return nil, fmt.Errorf("decode: trailing data after the list")
	}
	seen := map[string]bool{}
	for i, e := range entries {
		switch {
		case !namePattern.MatchString(e.Name):
			return nil, fmt.Errorf("entry %d: name %q must match %s", i, e.Name, namePattern)
		case seen[e.Name]:
			return nil, fmt.Errorf("entry %d: duplicate name %q", i, e.Name)
		case e.Binary == "":
			return nil, fmt.Errorf("connector %s: binary is required", e.Name)
		}
		if sum, err := hex.DecodeString(e.SHA256); err != nil || len(sum) != 32 {
			return nil, fmt.Errorf("connector %s: sha256 must be 64 hex digits", e.Name)
		}
		seen[e.Name] = true
	}
	return entries, nil
}

var envRef = regexp.MustCompile(`\$\{([A-Za-z_][A-Za-z0-9_]*)\}`)

// resolveConfig replaces ${NAME} references with values from lookup. A
// missing variable is an error: a connector must not start with an empty
// API key and fail later in confusing ways.
func resolveConfig(cfg map[string]string, lookup func(string) (string, bool)) (map[string]string, error) {
	out := make(map[string]string, len(cfg))
	var missing []string
	for k, v := range cfg {
		out[k] = envRef.ReplaceAllStringFunc(v, func(ref string) string {
			name := envRef.FindStringSubmatch(ref)[1]
			val, ok := lookup(name)
			if !ok {
				missing = append(missing, name)
			}
			return val
		})
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("config refers to unset environment variables: %s", strings.Join(missing, ", "))
	}
	return out, nil
}
