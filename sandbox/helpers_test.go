package sandbox

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"
)

// fixedClock is a test clock that moves only when told to.
type fixedClock struct {
	mu sync.Mutex
	t  time.Time
}

func newFixedClock(t time.Time) *fixedClock { return &fixedClock{t: t} }

func (c *fixedClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fixedClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// day2 is the fixed test day.
var day2 = time.Date(2025, 1, 2, 10, 0, 0, 0, time.UTC)

// start runs a sandbox on a loopback port for the test's lifetime.
func start(t *testing.T, cfg Config) *Server {
	t.Helper()
	sb, err := Start(cfg)
	if err != nil {
		t.Fatalf("start sandbox: %v", err)
	}
	t.Cleanup(func() {
		if err := sb.Close(); err != nil {
			t.Errorf("close sandbox: %v", err)
		}
	})
	return sb
}

// call sends an authenticated JSON request and decodes the answer into out
// (when out is not nil). It returns the response.
func call(t *testing.T, sb *Server, method, path string, body, out any) *http.Response {
	t.Helper()
	return callKey(t, sb, DefaultAPIKey, method, path, body, out)
}

func callKey(t *testing.T, sb *Server, key, method, path string, body, out any) *http.Response {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			t.Fatalf("encode %s %s: %v", method, path, err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, sb.URL()+path, rd)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	req.Header.Set("Content-Type", "application/json")
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: read: %v", method, path, err)
	}
	if out != nil {
		if err := json.Unmarshal(raw, out); err != nil {
			t.Fatalf("%s %s: decode %q: %v", method, path, raw, err)
		}
	}
	return resp
}

// wantStatus fails the test when resp has another HTTP status.
func wantStatus(t *testing.T, resp *http.Response, want int) {
	t.Helper()
	if resp.StatusCode != want {
		t.Fatalf("%s %s: HTTP %d, want %d", resp.Request.Method, resp.Request.URL.Path, resp.StatusCode, want)
	}
}

// noRedirect is a client that stops at redirects, so a test sees where a
// buyer page sends the buyer.
var noRedirect = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

// click posts a buyer form, as a browser does when the buyer presses a button.
func click(t *testing.T, pageURL string, form url.Values) (*http.Response, string) {
	t.Helper()
	resp, err := noRedirect.PostForm(pageURL, form)
	if err != nil {
		t.Fatalf("post %s: %v", pageURL, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

// getPage fetches a buyer page without a key.
func getPage(t *testing.T, pageURL string) (int, string) {
	t.Helper()
	resp, err := http.Get(pageURL)
	if err != nil {
		t.Fatalf("get %s: %v", pageURL, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// received is one webhook as the receiver saw it.
type received struct {
	header http.Header
	body   []byte
	event  webhookBody
}

// receiver is a webhook endpoint that records what arrives and can refuse
// the first attempts.
type receiver struct {
	t      *testing.T
	srv    *httptest.Server
	mu     sync.Mutex
	got    []received
	refuse int
	notify chan struct{}
}

func newReceiver(t *testing.T, refuse int) *receiver {
	t.Helper()
	rc := &receiver{t: t, refuse: refuse, notify: make(chan struct{}, 100)}
	rc.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		rc.mu.Lock()
		defer rc.mu.Unlock()
		if rc.refuse > 0 {
			rc.refuse--
			http.Error(w, "not now", http.StatusServiceUnavailable)
			return
		}
		var ev webhookBody
		if err := json.Unmarshal(body, &ev); err != nil {
			t.Errorf("webhook body %q: %v", body, err)
		}
		rc.got = append(rc.got, received{r.Header.Clone(), body, ev})
		w.WriteHeader(http.StatusNoContent)
		rc.notify <- struct{}{}
	}))
	t.Cleanup(rc.srv.Close)
	return rc
}

// register registers the receiver with the sandbox through the HTTP API.
func (rc *receiver) register(sb *Server, secret string, channels ...string) {
	rc.t.Helper()
	var ep endpoint
	resp := call(rc.t, sb, "POST", "/webhooks/endpoints", endpointRequest{URL: rc.srv.URL + "/hook", Secret: secret, Channels: channels}, &ep)
	wantStatus(rc.t, resp, http.StatusCreated)
}

// waitFor waits until a webhook of type typ arrives and returns it.
func (rc *receiver) waitFor(typ string) received {
	rc.t.Helper()
	deadline := time.After(5 * time.Second)
	for {
		rc.mu.Lock()
		for _, g := range rc.got {
			if g.event.Type == typ {
				rc.mu.Unlock()
				return g
			}
		}
		rc.mu.Unlock()
		select {
		case <-rc.notify:
		case <-deadline:
			rc.t.Fatalf("no %s webhook within 5s", typ)
		}
	}
}

// cardReq builds an authorize request.
func cardReq(key, pan string, amount int64, currency string, capture bool) authorizeRequest {
	cvc := "123"
	if strings.HasPrefix(pan, "34") || strings.HasPrefix(pan, "37") {
		cvc = "1234"
	}
	return authorizeRequest{
		IdempotencyKey: key, MerchantReference: "ref-" + key, Amount: amount, Currency: currency, Capture: capture,
		Card: cardRequest{Number: pan, ExpMonth: 12, ExpYear: 2030, CVC: cvc},
	}
}
