package sdk

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"

	"github.com/straitpay/strait/connectors"
)

// MaxChannelResponseBytes bounds a channel's answer. Settlement reports
// are the largest answers we read; 8 MiB holds tens of thousands of lines
// and stays under the 16 MiB gRPC message limit towards the host.
const MaxChannelResponseBytes = 8 << 20

// maxIdlePerChannel is how many idle connections to the channel's host a
// connector keeps. A channel is one host, and the Strait host calls a
// connector concurrently (16 payments in flight are common); net/http's
// default keeps 2, so every other call closed its connection and the next
// one opened a new one: a TCP (in production a TLS) handshake per payment
// and a socket left in TIME_WAIT each time.
const maxIdlePerChannel = 64

// defaultClient is the client of a Channel without its own: no timeout (the
// host's deadline arrives through ctx), connections kept for reuse.
var defaultClient = func() *http.Client {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.MaxIdleConns = 4 * maxIdlePerChannel
	t.MaxIdleConnsPerHost = maxIdlePerChannel
	return &http.Client{Transport: t}
}()

// Channel is a small JSON-over-HTTP client for a channel's API. Its value
// is in the error mapping, which decides whether money may have moved:
//
//   - the connection could not be made: EUNAVAILABLE, nothing was sent;
//   - the request was sent but no answer came (deadline, reset): EUNKNOWN;
//   - the channel answered with an error status: a *StatusError, which
//     the connector maps to a business outcome or returns as is.
type Channel struct {
	BaseURL string
	// Header is sent with every request (authorization, API version).
	Header http.Header
	// Client defaults to a client without a timeout (the host's deadline
	// arrives through ctx) that keeps up to 64 idle connections to the
	// channel.
	Client *http.Client
}

// StatusError is a non-2xx answer from the channel.
type StatusError struct {
	Status int
	Body   []byte
}

// Error returns the status and the start of the body.
func (e *StatusError) Error() string {
	body := string(e.Body)
	if len(body) > 200 {
		body = body[:200] + "…"
	}
	return fmt.Sprintf("channel answered %d: %s", e.Status, strings.TrimSpace(body))
}

// Unwrap classifies the status: 400, 409 and 422 are EINVALID (the
// channel refused the request as such), 401 and 403 EUNAVAILABLE (our
// credentials are wrong, nothing was done), 5xx EUNKNOWN (the channel may
// have acted before failing).
func (e *StatusError) Unwrap() error {
	switch {
	case e.Status == 400 || e.Status == 409 || e.Status == 422:
		return connectors.Errorf(connectors.EINVALID, "channel refused the request")
	case e.Status == 401 || e.Status == 403:
		return connectors.Errorf(connectors.EUNAVAILABLE, "channel refused our credentials")
	case e.Status >= 500:
		return connectors.Errorf(connectors.EUNKNOWN, "channel failed")
	}
	return connectors.Errorf(connectors.EINTERNAL, "unexpected channel status")
}

// Call sends in as JSON (nil for no body) and decodes a 2xx answer into
// out (nil to discard it).
func (c *Channel) Call(ctx context.Context, method, path string, in, out any) error {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return fmt.Errorf("%s %s: encode: %w", method, path, err)
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, strings.TrimRight(c.BaseURL, "/")+path, body)
	if err != nil {
		return fmt.Errorf("%s %s: %w", method, path, err)
	}
	for k, v := range c.Header {
		req.Header[k] = v
	}
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Accept", "application/json")
	client := c.Client
	if client == nil {
		client = defaultClient
	}
	resp, err := client.Do(req)
	if err != nil {
		return fmt.Errorf("%s %s: %w", method, path, transportError(err))
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, MaxChannelResponseBytes))
	if err != nil {
		return fmt.Errorf("%s %s: read answer: %w", method, path,
			&connectors.Error{Code: connectors.EUNKNOWN, Message: "answer cut off", Err: err})
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return fmt.Errorf("%s %s: %w", method, path, &StatusError{Status: resp.StatusCode, Body: b})
	}
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			// The channel acted but we cannot read what it did.
			return fmt.Errorf("%s %s: %w", method, path,
				&connectors.Error{Code: connectors.EUNKNOWN, Message: "undecodable answer", Err: err})
		}
	}
	return nil
}

// transportError tells "never sent" from "sent, no answer".
func transportError(err error) error {
	var op *net.OpError
	if errors.As(err, &op) && op.Op == "dial" {
		return &connectors.Error{Code: connectors.EUNAVAILABLE, Message: "channel unreachable", Err: err}
	}
	return &connectors.Error{Code: connectors.EUNKNOWN, Message: "no answer from the channel", Err: err}
}

// IsStatus reports whether err is a *StatusError with the given status.
func IsStatus(err error, status int) bool {
	var se *StatusError
	return errors.As(err, &se) && se.Status == status
}
