package disputes

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/straitpay/strait/connectors"
	"github.com/straitpay/strait/ent"
	"github.com/straitpay/strait/ent/schema/pulid"
	"github.com/straitpay/strait/payments"
	"github.com/straitpay/strait/payments/viewer"
)

// FileStore keeps evidence documents by key. Keys are made by the dispute
// service ("merchant/dispute/file"); a store never serves files by itself.
type FileStore interface {
	Put(ctx context.Context, key string, data []byte) error
	Get(ctx context.Context, key string) ([]byte, error)
}

// DiskStore is a FileStore on local disk under Dir (Strait's data
// directory by default), files readable by Strait's user only.
type DiskStore struct{ Dir string }

var storeKey = regexp.MustCompile(`^[A-Za-z0-9_]+(/[A-Za-z0-9_]+)*$`)

func (s DiskStore) path(key string) (string, error) {
	if !storeKey.MatchString(key) {
		return "", fmt.Errorf("file store: invalid key %q", key)
	}
	return filepath.Join(s.Dir, filepath.FromSlash(key)), nil
}

// Put writes data under key, atomically (a temporary file renamed).
func (s DiskStore) Put(_ context.Context, key string, data []byte) error {
	p, err := s.path(key)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
		return fmt.Errorf("file store: %w", err)
	}
	tmp := p + ".tmp"
	if err := os.WriteFile(tmp, data, 0o600); err != nil {
		return fmt.Errorf("file store: %w", err)
	}
	return os.Rename(tmp, p)
}

// Get reads the file under key.
func (s DiskStore) Get(_ context.Context, key string) ([]byte, error) {
	p, err := s.path(key)
	if err != nil {
		return nil, err
	}
	return os.ReadFile(p)
}

// MaxFiles bounds the files of one dispute.
const MaxFiles = 10

// fileTypes are the evidence types card networks take, by the type sniffed
// from the content, with the file name extensions that may carry each.
var fileTypes = map[string][]string{
	"application/pdf": {".pdf"},
	"image/png":       {".png"},
	"image/jpeg":      {".jpg", ".jpeg"},
}

// UploadFile stores an evidence document for a dispute that waits for an
// answer. The type is sniffed from the content, never taken from the client:
// it must be PDF, PNG or JPEG, and the name's extension must say the same
// (a PNG named .pdf is refused). Returns EINVALID (field "file") for an empty
// file, one over connectors.MaxDisputeFileBytes, another type or a
// mismatched name, or when the dispute's files would exceed MaxFiles or
// connectors.MaxDisputeEvidenceBytes together; ENOTFOUND for a dispute the
// caller cannot see; ECONFLICT for one that takes no answer.
func (s *Service) UploadFile(ctx context.Context, id, name, purpose string, r io.Reader) (*ent.DisputeFile, error) {
	if s.cfg.Files == nil {
		return nil, payments.Errorf(payments.EUNAVAILABLE, "no file storage is configured")
	}
	d, err := s.Dispute(ctx, id)
	if err != nil {
		return nil, err
	}
	if err := s.answerable(d); err != nil {
		return nil, err
	}
	data, err := io.ReadAll(io.LimitReader(r, connectors.MaxDisputeFileBytes+1))
	if err != nil {
		return nil, fmt.Errorf("dispute %s: read upload: %w", d.ID, err)
	}
	switch {
	case len(data) == 0:
		return nil, payments.FieldErrorf("file", "the file is empty")
	case len(data) > connectors.MaxDisputeFileBytes:
		return nil, payments.FieldErrorf("file", "the file is over %d bytes", connectors.MaxDisputeFileBytes)
	}
	sniffed := strings.Split(http.DetectContentType(data), ";")[0]
	exts, ok := fileTypes[sniffed]
	if !ok {
		return nil, payments.FieldErrorf("file", "the file is %s, not PDF, PNG or JPEG", sniffed)
	}
	name = filepath.Base(strings.TrimSpace(name))
	if ext := strings.ToLower(filepath.Ext(name)); !containsString(exts, ext) {
		return nil, payments.FieldErrorf("file", "the file is %s but named %q", sniffed, clip(name, 64))
	}
	if purpose == "" {
		purpose = "uncategorized"
	}
	if !containsString(EvidenceFields, purpose) && purpose != "uncategorized" {
		return nil, payments.FieldErrorf("purpose", "unknown evidence purpose %q", clip(purpose, 64))
	}
	prior, err := d.QueryFiles().All(ctx)
	if err != nil {
		return nil, fmt.Errorf("dispute %s files: %w", d.ID, err)
	}
	total := int64(len(data))
	for _, f := range prior {
		total += f.Size
	}
	if len(prior) >= MaxFiles || total > connectors.MaxDisputeEvidenceBytes {
		return nil, payments.FieldErrorf("file", "a dispute takes at most %d files and %d bytes together", MaxFiles, connectors.MaxDisputeEvidenceBytes)
	}
	fileID := pulid.New("dsf")
	key := d.MerchantID + "/" + d.ID + "/" + fileID
	if err := s.cfg.Files.Put(ctx, key, data); err != nil {
		return nil, payments.Errorf(payments.EUNAVAILABLE, "dispute %s: store the file: %v", d.ID, err)
	}
	sum := sha256.Sum256(data)
	sys := viewer.SystemContext(ctx)
	var f *ent.DisputeFile
	err = s.tx(sys, func(tx *ent.Tx) error {
		var err error
		f, err = tx.DisputeFile.Create().SetID(fileID).SetMerchantID(d.MerchantID).SetDisputeID(d.ID).SetName(clip(name, 255)).
			SetContentType(sniffed).SetPurpose(purpose).SetSize(int64(len(data))).SetSha256(hex.EncodeToString(sum[:])).
			SetStorageKey(key).Save(sys)
		if err != nil {
			return err
		}
		return tx.DisputeEvent.Create().SetMerchantID(d.MerchantID).SetDisputeID(d.ID).SetKind("file_uploaded").
			SetFromState(string(d.State)).SetToState(string(d.State)).SetNote(clip("file "+name+" ("+purpose+")", 512)).Exec(sys)
	})
	if err != nil {
		return nil, fmt.Errorf("dispute %s: file: %w", d.ID, err)
	}
	return f, nil
}

// evidenceFiles reads the dispute's uploaded files for the channel.
func (s *Service) evidenceFiles(ctx context.Context, d *ent.Dispute) ([]connectors.DisputeFile, error) {
	rows, err := d.QueryFiles().All(viewer.SystemContext(ctx))
	if err != nil {
		return nil, fmt.Errorf("dispute %s files: %w", d.ID, err)
	}
	var out []connectors.DisputeFile
	for _, f := range rows {
		if s.cfg.Files == nil {
			return nil, payments.Errorf(payments.EUNAVAILABLE, "no file storage is configured")
		}
		data, err := s.cfg.Files.Get(ctx, f.StorageKey)
		if err != nil {
			return nil, errors.Join(payments.Errorf(payments.EINTERNAL, "dispute %s: file %s is missing from storage", d.ID, f.ID), err)
		}
		out = append(out, connectors.DisputeFile{Name: f.Name, ContentType: f.ContentType, Purpose: f.Purpose, Data: data})
	}
	return out, nil
}

func containsString(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
