package events

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"slices"
	"syscall"
	"time"

	"github.com/straitpay/strait/payments"
)

// TargetPolicy decides which addresses webhooks may reach. By default only
// public unicast addresses: private, loopback, link-local (cloud metadata),
// multicast and unspecified ones are refused, after DNS resolution and on
// every redirect, because the check runs on the address each connection
// actually dials.
type TargetPolicy struct {
	// AllowPrivate lets webhooks reach any address, and plain http:
	// development only (STRAIT_WEBHOOK_ALLOW_PRIVATE).
	AllowPrivate bool
	// AllowAddrs lets these exact "ip:port" through whatever they are
	// (tests that must reach one local receiver and no other).
	AllowAddrs []string
}

// allowed reports whether dialing addr ("ip:port") is allowed.
func (p TargetPolicy) allowed(addr string) error {
	if p.AllowPrivate || slices.Contains(p.AllowAddrs, addr) {
		return nil
	}
	ap, err := netip.ParseAddrPort(addr)
	if err != nil {
		return fmt.Errorf("webhook target %s: %w", addr, err)
	}
	ip := ap.Addr().Unmap()
	if !ip.IsGlobalUnicast() || ip.IsPrivate() || ip.IsLoopback() || ip.IsLinkLocalUnicast() {
		return fmt.Errorf("webhook target %s is not a public address", addr)
	}
	// IsGlobalUnicast admits shared (CGNAT) and other special ranges.
	for _, pfx := range specialPrefixes {
		if pfx.Contains(ip) {
			return fmt.Errorf("webhook target %s is not a public address", addr)
		}
	}
	return nil
}

var specialPrefixes = []netip.Prefix{
	netip.MustParsePrefix("100.64.0.0/10"), // carrier-grade NAT
	netip.MustParsePrefix("192.0.0.0/24"),  // IETF protocol assignments
	netip.MustParsePrefix("198.18.0.0/15"), // benchmarking
	netip.MustParsePrefix("64:ff9b::/96"),  // NAT64 can reach private IPv4
}

// CheckURL validates an endpoint URL when it is created: https (http only
// with AllowPrivate), a host, and every address the host resolves to
// allowed. Returns EINVALID on field "url" otherwise.
func (p TargetPolicy) CheckURL(ctx context.Context, raw string) error {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" || u.User != nil {
		return payments.FieldErrorf("url", "url must be an absolute https URL without credentials")
	}
	if u.Scheme != "https" && !(u.Scheme == "http" && (p.AllowPrivate || len(p.AllowAddrs) > 0)) {
		return payments.FieldErrorf("url", "url must use https")
	}
	port := u.Port()
	if port == "" {
		port = map[string]string{"https": "443", "http": "80"}[u.Scheme]
	}
	rctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	ips, err := net.DefaultResolver.LookupNetIP(rctx, "ip", u.Hostname())
	if err != nil || len(ips) == 0 {
		return payments.FieldErrorf("url", "url's host does not resolve")
	}
	for _, ip := range ips {
		if err := p.allowed(netip.AddrPortFrom(ip.Unmap(), parsePort(port)).String()); err != nil {
			return payments.FieldErrorf("url", "url resolves to a private, loopback or link-local address")
		}
	}
	return nil
}

func parsePort(s string) uint16 {
	var n uint16
	_, _ = fmt.Sscan(s, &n)
	return n
}

// maxRedirects bounds the redirects a delivery follows; each hop is
// checked like the first.
const maxRedirects = 3

// HTTPClient returns the client deliveries use: every connection's address
// is checked after resolution (the dialer's Control runs on the address
// being connected), so neither DNS rebinding nor a redirect reaches a
// refused address.
func (p TargetPolicy) HTTPClient(timeout time.Duration) *http.Client {
	dialer := &net.Dialer{
		Timeout: 5 * time.Second,
		Control: func(_, address string, _ syscall.RawConn) error { return p.allowed(address) },
	}
	tr := &http.Transport{
		DialContext:           dialer.DialContext,
		Proxy:                 nil, // a proxy would dial for us, unchecked
		MaxIdleConnsPerHost:   16,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   5 * time.Second,
		ResponseHeaderTimeout: timeout,
	}
	return &http.Client{
		Transport: tr,
		Timeout:   timeout,
		CheckRedirect: func(req *http.Request, via []*http.Request) error {
			if len(via) >= maxRedirects {
				return fmt.Errorf("stopped after %d redirects", maxRedirects)
			}
			if req.URL.Scheme != "https" && !(req.URL.Scheme == "http" && (p.AllowPrivate || len(p.AllowAddrs) > 0)) {
				return fmt.Errorf("redirect to %s refused: not https", req.URL.Scheme)
			}
			return nil
		},
	}
}
