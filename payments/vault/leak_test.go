package vault

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"testing"
)

// TestNoPANOrCVCInFmtSlogOrJSON formats every card-bearing type through every
// path a developer might reach for (fmt verbs, slog text and JSON handlers,
// encoding/json, nesting in exported and unexported struct fields) and checks
// that neither the full number, nor its middle digits, nor the CVC comes out.
func TestNoPANOrCVCInFmtSlogOrJSON(t *testing.T) {
	f := newFixture(t, "k1:"+testKey(1))
	in := visaInput()
	in.Number = "4000 0566 5566 5556"
	in.CVC = "987"
	ctx := context.Background()
	tok, info, err := f.vault.Tokenize(ctx, in)
	if err != nil {
		t.Fatal(err)
	}
	pan, err := f.vault.Detokenize(ctx, "mer_a", tok)
	if err != nil {
		t.Fatal(err)
	}
	card, err := f.vault.Card(ctx, "mer_a", tok)
	if err != nil {
		t.Fatal(err)
	}
	if card.CVC.Reveal() != "987" {
		t.Fatalf("card CVC not held")
	}
	cvc, err := ParseCVC("987", Visa)
	if err != nil {
		t.Fatal(err)
	}

	type exported struct {
		Card Card
		PAN  PAN
		CVC  CVC
		In   CardInput
	}
	type unexported struct {
		card Card
		pan  PAN
		cvc  CVC
	}
	values := map[string]any{
		"PAN": pan, "*PAN": &pan, "CVC": cvc, "Card": card, "*Card": &card, "CardInput": in,
		"CardInfo": info, "exported": exported{card, pan, cvc, in},
		"unexported": unexported{card, pan, cvc}, "*unexported": &unexported{card, pan, cvc},
		"slice": []PAN{pan}, "map": map[string]CVC{"c": cvc},
	}

	var out bytes.Buffer
	text := slog.New(slog.NewTextHandler(&out, nil))
	js := slog.New(slog.NewJSONHandler(&out, nil))
	for name, v := range values {
		for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q", "%d", "%x", "%X", "%T"} {
			fmt.Fprintf(&out, name+" "+verb+"\n", v)
		}
		fmt.Fprintln(&out, v)
		text.Info("card", "v", v)
		js.Info("card", "v", v)
		js.Info("card", slog.Any("any", v), slog.Group("g", "v", v))
		b, err := json.Marshal(v)
		if err != nil {
			t.Fatalf("json %s: %v", name, err)
		}
		out.Write(b)
		out.WriteByte('\n')
	}
	assertNoCardData(t, out.String(), "4000056655665556", "987")
}

// assertNoCardData fails if s contains the PAN (with or without separators, or
// hex-encoded), its middle digits, or the CVC as a standalone number.
func assertNoCardData(t *testing.T, s, pan, cvc string) {
	t.Helper()
	flat := strings.NewReplacer(" ", "", "-", "").Replace(s)
	if strings.Contains(flat, pan) || strings.Contains(s, pan[6:12]) || strings.Contains(strings.ToLower(s), hex.EncodeToString([]byte(pan))) {
		t.Fatalf("output contains the PAN:\n%s", s)
	}
	for _, field := range strings.FieldsFunc(s, func(r rune) bool { return r < '0' || r > '9' }) {
		if field == cvc {
			t.Fatalf("output contains the CVC:\n%s", s)
		}
	}
}

// findLuhnRun returns the first substring of 13 to 19 consecutive digits that is
// Luhn-valid, or "" if there is none.
func findLuhnRun(s string) string {
	for _, run := range strings.FieldsFunc(s, func(r rune) bool { return r < '0' || r > '9' }) {
		for n := 13; n <= 19; n++ {
			for i := 0; i+n <= len(run); i++ {
				if Luhn(run[i : i+n]) {
					return run[i : i+n]
				}
			}
		}
	}
	return ""
}

// TestStoreHoldsNoCardData scans everything the store keeps after tokenizing a
// batch of cards for the PANs and for any Luhn-valid number.
func TestStoreHoldsNoCardData(t *testing.T) {
	f := newFixture(t, "k1:"+testKey(1))
	ctx := context.Background()
	pans := []string{"4242424242424242", "5555555555554444", "378282246310005", "6200000000000005", "3566002020360505"}
	for i := 0; i < 40; i++ {
		in := visaInput()
		in.Number = pans[i%len(pans)]
		in.CVC = ""
		in.Save = i%2 == 0
		in.CustomerID = fmt.Sprintf("cus_%c", 'a'+i)
		if _, _, err := f.vault.Tokenize(ctx, in); err != nil {
			t.Fatal(err)
		}
	}
	dump := f.store.Dump()
	for _, p := range pans {
		if strings.Contains(dump, p) {
			t.Fatalf("store holds PAN %s", p[:6])
		}
	}
	if run := findLuhnRun(dump); run != "" {
		t.Fatalf("store holds a Luhn-valid digit run")
	}
}
