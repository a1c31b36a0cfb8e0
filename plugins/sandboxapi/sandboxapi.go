// Package sandboxapi is what the reference connectors share about the
// sandbox's HTTP API: configuration, outcome mapping, webhook verification and
// settlement reports. It is an ordinary (not internal) package so that a
// reference plugin copied into another module still builds: import it as
// github.com/straitpay/strait/plugins/sandboxapi, or copy it next to your
// connector and adapt it to your channel. It imports only the SDK and the
// contract, like the plugins themselves.
package sandboxapi

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/straitpay/strait/connectors"
	"github.com/straitpay/strait/connectors/sdk"
)

// Currencies are the currencies the sandbox channels accept.
var Currencies = []string{"USD", "EUR", "GBP", "JPY", "CNY", "HKD", "SGD", "KWD", "BHD", "JOD",
	"AUD", "CAD", "CHF", "NZD", "KRW", "INR", "MYR", "THB", "AED", "SAR", "TWD", "SEK", "NOK", "DKK",
	"PHP", "IDR", "VND", "MXN", "BRL"}

// The sandbox counts every amount in ISO 4217 minor units (sandbox/API.md):
// IDR in hundredths, where Strait counts whole rupiah. Amount and Money
// convert at the connector's edge, exactly, both ways.

// Exponent returns the sandbox's exponent for a currency, ISO 4217's, or
// false for one the sandbox cannot count in.
func Exponent(code string) (int, bool) { return sdk.ISO4217Exponent(code) }

// Amount returns m in the sandbox's minor units: what a connector sends.
// Returns EINVALID (nothing is sent) for an amount with no exact form
// there, or a currency without an ISO 4217 minor unit.
func Amount(m connectors.Money) (int64, error) {
	e, ok := Exponent(m.Currency)
	if !ok {
		return 0, connectors.Errorf(connectors.EINVALID, "the sandbox has no minor unit for %q", m.Currency)
	}
	return sdk.ToChannel(m, e)
}

// Money turns an amount the sandbox reported into the Money a connector
// returns: in Strait's exponent when exact, else in the sandbox's, stated
// (sdk.FromChannel).
func Money(minor int64, code string) connectors.Money {
	e, ok := Exponent(code)
	if !ok {
		// The sandbox refuses such currencies; keep its number unstated.
		return connectors.Money{Minor: minor, Currency: code}
	}
	return sdk.FromChannel(minor, code, e)
}

// Configure reads the settings every sandbox connector takes:
//
//	base_url        the channel's API, e.g. http://127.0.0.1:8090
//	api_key         the channel's API key (a secret: reference it as ${VAR})
//	webhook_secret  the HMAC key of the channel's webhooks (a secret)
//	webhook_url     optional: Strait's public URL for this connector's
//	                webhooks; when set, the endpoint is registered with the
//	                channel, which is idempotent, on every start.
func Configure(ctx context.Context, cfg connectors.Config, channel string) (*sdk.Channel, sdk.Webhook, error) {
	base, key := cfg["base_url"], cfg["api_key"]
	if _, err := url.ParseRequestURI(base); err != nil || key == "" {
		return nil, sdk.Webhook{}, connectors.Errorf(connectors.EINVALID, "base_url (a URL) and api_key are required")
	}
	api := &sdk.Channel{BaseURL: base, Header: http.Header{"Authorization": {"Bearer " + key}}}
	wh := sdk.Webhook{Secret: []byte(cfg["webhook_secret"])}
	if u := cfg["webhook_url"]; u != "" && channel != "" {
		if len(wh.Secret) == 0 {
			return nil, sdk.Webhook{}, connectors.Errorf(connectors.EINVALID, "webhook_url needs webhook_secret")
		}
		body := map[string]any{"url": u, "secret": cfg["webhook_secret"], "channels": []string{channel}}
		if err := api.Call(ctx, http.MethodPost, "/webhooks/endpoints", body, nil); err != nil {
			return nil, sdk.Webhook{}, fmt.Errorf("register webhook endpoint: %w", err)
		}
	}
	return api, wh, nil
}

// Outcome maps the sandbox's status words to the normalized outcome,
// keeping the channel's own decline code and message.
func Outcome(status, declineType, code, message string) connectors.Result {
	switch status {
	case "approved":
		return connectors.Approved()
	case "pending":
		return connectors.Pending()
	case "action_required":
		return connectors.ActionRequired()
	case "declined":
		t := connectors.DeclineHard
		if declineType == "soft" {
			t = connectors.DeclineSoft
		}
		return connectors.Declined(t, code, message)
	}
	// A status we do not know: do not guess what happened to the money.
	return connectors.Unknown("unrecognized channel status " + status)
}

// Operate posts an operation on an existing payment (capture, void,
// refund) to path and maps the sandbox's answer. Amounts in body are the
// sandbox's already (Amount). A payment the channel does
// not know is a hard "not_found" decline, not an error: nothing can have
// moved.
func Operate(ctx context.Context, api *sdk.Channel, path string, body map[string]any) (connectors.OperationResponse, error) {
	var op struct {
		Status         string `json:"status"`
		ID             string `json:"id"`
		Amount         int64  `json:"amount"`
		Currency       string `json:"currency"`
		DeclineType    string `json:"decline_type"`
		DeclineCode    string `json:"decline_code"`
		DeclineMessage string `json:"decline_message"`
	}
	err := api.Call(ctx, http.MethodPost, path, body, &op)
	if sdk.IsStatus(err, http.StatusNotFound) {
		return connectors.OperationResponse{Result: connectors.Declined(connectors.DeclineHard, "not_found", "no such payment")}, nil
	}
	if err != nil {
		return connectors.OperationResponse{}, err
	}
	out := connectors.OperationResponse{
		Result: Outcome(op.Status, op.DeclineType, op.DeclineCode, op.DeclineMessage), ID: op.ID,
	}
	if op.Currency != "" {
		out.Amount = Money(op.Amount, op.Currency)
	}
	return out, nil
}

// Find reads one object of the collection at path (e.g. "/card/payments"):
// by the channel's id when id is set, otherwise the newest one whose
// refParam equals ref. found is false when the channel has no such object;
// for a payment looked up after an unknown outcome, that means the channel
// never acted on it.
func Find[T any](ctx context.Context, api *sdk.Channel, path, id, refParam, ref string) (obj T, found bool, err error) {
	if id != "" {
		err := api.Call(ctx, http.MethodGet, path+"/"+url.PathEscape(id), nil, &obj)
		if sdk.IsStatus(err, http.StatusNotFound) {
			return obj, false, nil
		}
		return obj, err == nil, err
	}
	var list struct{ Data []T }
	if err := api.Call(ctx, http.MethodGet, path+"?"+refParam+"="+url.QueryEscape(ref), nil, &list); err != nil {
		return obj, false, err
	}
	if len(list.Data) == 0 {
		return obj, false, nil
	}
	return list.Data[0], true, nil // lists are newest first
}

// Notification is the sandbox's webhook envelope.
type Notification struct {
	ID        string          `json:"id"`
	Type      string          `json:"type"`
	Channel   string          `json:"channel"`
	CreatedAt time.Time       `json:"created_at"`
	Data      json.RawMessage `json:"data"`
}

func (n Notification) Decode(v any) error { return json.Unmarshal(n.Data, v) }

// Verify checks the sandbox's signature, hex(HMAC-SHA256(secret,
// id.timestamp.body)) in "X-Sandbox-Signature: v1=…", and decodes the
// envelope. The id in the body must be the signed one.
func Verify(w sdk.Webhook, r connectors.HTTPRequest) (Notification, error) {
	id := r.Headers.Get("X-Sandbox-Event-Id")
	ts := r.Headers.Get("X-Sandbox-Timestamp")
	sig, ok := strings.CutPrefix(r.Headers.Get("X-Sandbox-Signature"), "v1=")
	if id == "" || !ok {
		return Notification{}, fmt.Errorf("%w: signature headers missing", sdk.ErrBadSignature)
	}
	if err := w.Verify(ts, sig, []byte(id), []byte(ts), r.Body); err != nil {
		return Notification{}, err
	}
	var n Notification
	if err := json.Unmarshal(r.Body, &n); err != nil {
		return Notification{}, fmt.Errorf("decode webhook: %w", err)
	}
	if n.ID != id {
		return Notification{}, fmt.Errorf("%w: body id %q is not the signed id", sdk.ErrBadSignature, n.ID)
	}
	return n, nil
}

// SettlementReport fetches one day's report, or one page of it, from path.
// A positive r.PageSize asks the sandbox for that many items after the
// item named by r.PageToken (the sandbox's limit and starting_after); the
// answer's NextPageToken is the last item's id while the sandbox has more.
func SettlementReport(ctx context.Context, api *sdk.Channel, path string, r connectors.SettlementReportRequest) (connectors.SettlementReport, error) {
	var rep struct {
		Items []struct {
			ID                string `json:"id"`
			Type              string `json:"type"`
			TransactionID     string `json:"transaction_id"`
			PaymentID         string `json:"payment_id"`
			MerchantReference string `json:"merchant_reference"`
			Currency          string `json:"currency"`
			Gross             int64  `json:"gross"`
			Fee               int64  `json:"fee"`
			Net               int64  `json:"net"`
		} `json:"items"`
		HasMore bool `json:"has_more"`
	}
	q := url.Values{"date": {r.Date}}
	if r.PageSize > 0 {
		q.Set("limit", strconv.Itoa(r.PageSize))
		if r.PageToken != "" {
			q.Set("starting_after", r.PageToken)
		}
	}
	if err := api.Call(ctx, http.MethodGet, path+"?"+q.Encode(), nil, &rep); err != nil {
		return connectors.SettlementReport{}, err
	}
	out := connectors.SettlementReport{Result: connectors.Approved(), Date: r.Date, Lines: make([]connectors.SettlementLine, 0, len(rep.Items))}
	for _, it := range rep.Items {
		// A line's three amounts share one unit, so that gross − fee = net
		// still holds in minor units: Strait's when all three convert
		// exactly, the sandbox's otherwise (a fee of 0.30 IDR).
		gross, fee, net := Money(it.Gross, it.Currency), Money(it.Fee, it.Currency), Money(it.Net, it.Currency)
		if gross.Exponent != fee.Exponent || fee.Exponent != net.Exponent {
			e, _ := Exponent(it.Currency)
			at := func(minor int64) connectors.Money {
				return connectors.Money{Minor: minor, Currency: it.Currency, Exponent: connectors.Exp(e)}
			}
			gross, fee, net = at(it.Gross), at(it.Fee), at(it.Net)
		}
		out.Lines = append(out.Lines, connectors.SettlementLine{PaymentID: it.PaymentID, Reference: it.MerchantReference,
			Type: it.Type, Gross: gross, Fee: fee, Net: net, TransactionID: it.TransactionID})
	}
	if rep.HasMore && r.PageSize > 0 && len(rep.Items) > 0 {
		out.NextPageToken = rep.Items[len(rep.Items)-1].ID
	}
	return out, nil
}
