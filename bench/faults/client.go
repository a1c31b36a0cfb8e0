package faults

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// Outcome is what an operation's caller could tell of its effect.
type Outcome string

const (
	// OK: the answer came and said done.
	OK Outcome = "ok"
	// Failed: the answer came and said refused (a business or input error).
	Failed Outcome = "failed"
	// Indeterminate: no answer that tells (timeout, connection lost,
	// UNAVAILABLE, INTERNAL): the effect may or may not have happened.
	Indeterminate Outcome = "indeterminate"
)

// gqlResult is one GraphQL call as the client saw it.
type gqlResult struct {
	Data   map[string]json.RawMessage
	Errors []struct {
		Message    string
		Extensions struct{ Code string }
	}
	HTTP int
	Err  error // transport error
	Raw  string
}

// outcome classifies the call.
func (r gqlResult) outcome() (Outcome, string, string) {
	switch {
	case r.Err != nil:
		return Indeterminate, "TRANSPORT", shorten(r.Err.Error())
	case len(r.Errors) > 0:
		code, msg := r.Errors[0].Extensions.Code, r.Errors[0].Message
		switch code {
		case "UNAVAILABLE", "INTERNAL", "":
			return Indeterminate, code, shorten(msg)
		case "UNAUTHENTICATED":
			// A good key refused is a database that did not answer
			// (issue 13 point 4): the client cannot tell.
			return Indeterminate, code, shorten(msg)
		}
		return Failed, code, shorten(msg)
	case r.HTTP != http.StatusOK:
		return Indeterminate, fmt.Sprintf("HTTP_%d", r.HTTP), shorten(r.Raw)
	}
	return OK, "", ""
}

func shorten(s string) string {
	if len(s) > 160 {
		return s[:160] + "…"
	}
	return s
}

// client talks to Strait's GraphQL endpoint and the sandbox over HTTP.
type client struct {
	base, sandbox string
	http          *http.Client
	browser       *http.Client
}

func newClient(straitAddr, sandboxAddr string) *client {
	tr := &http.Transport{MaxIdleConnsPerHost: 32, IdleConnTimeout: 30 * time.Second}
	return &client{
		base: "http://" + straitAddr, sandbox: "http://" + sandboxAddr,
		// Longer than a channel call's 15 s deadline plus recording.
		http: &http.Client{Timeout: 25 * time.Second, Transport: tr},
		browser: &http.Client{Timeout: 25 * time.Second,
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }},
	}
}

func (c *client) gql(ctx context.Context, token, query string, vars map[string]any) gqlResult {
	body, _ := json.Marshal(map[string]any{"query": query, "variables": vars})
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.base+"/graphql", bytes.NewReader(body))
	if err != nil {
		return gqlResult{Err: err}
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := c.http.Do(req)
	if err != nil {
		return gqlResult{Err: err}
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return gqlResult{Err: err, HTTP: resp.StatusCode}
	}
	r := gqlResult{HTTP: resp.StatusCode, Raw: string(b)}
	if err := json.Unmarshal(b, &r); err != nil && resp.StatusCode == http.StatusOK {
		r.Err = fmt.Errorf("decode: %w", err)
	}
	return r
}

// decode reads field of an answer into out.
func (r gqlResult) decode(field string, out any) error {
	raw, ok := r.Data[field]
	if !ok || string(raw) == "null" {
		return fmt.Errorf("no %s in %s", field, shorten(r.Raw))
	}
	return json.Unmarshal(raw, out)
}

// must runs a query that must succeed (setup and checks), retrying what is
// indeterminate for up to a minute.
func (c *client) must(ctx context.Context, token, query string, vars map[string]any, field string, out any) error {
	deadline := time.Now().Add(time.Minute)
	for {
		r := c.gql(ctx, token, query, vars)
		o, code, msg := r.outcome()
		if o == OK {
			return r.decode(field, out)
		}
		if o == Failed || time.Now().After(deadline) || ctx.Err() != nil {
			return fmt.Errorf("%s: %s %s", field, code, msg)
		}
		time.Sleep(500 * time.Millisecond)
	}
}

// buyer posts a form on a channel's buyer page as a browser would, and
// stops at the redirect back to the shop. It answers the HTTP status, or an
// error when no answer came.
func (c *client) buyer(ctx context.Context, page string, form url.Values) (int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, page, strings.NewReader(form.Encode()))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := c.browser.Do(req)
	if err != nil {
		return 0, err
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode, nil
}

// sandboxJSON calls the sandbox's API with its key.
func (c *client) sandboxJSON(ctx context.Context, method, path string, out any) error {
	req, err := http.NewRequestWithContext(ctx, method, c.sandbox+path, nil)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer sk_sandbox_test")
	resp, err := c.http.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode >= 300 {
		return fmt.Errorf("%s %s: %s %s", method, path, resp.Status, shorten(string(b)))
	}
	if out == nil {
		return nil
	}
	return json.Unmarshal(b, out)
}

var errGiveUp = errors.New("gave up")
