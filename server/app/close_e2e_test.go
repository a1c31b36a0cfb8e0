package app_test

import (
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/straitpay/strait/payments/store"
	"github.com/straitpay/strait/payments/store/storetest"
	"github.com/straitpay/strait/sandbox"
)

const closeDayQuery = `mutation($in: CloseDayInput!) { closeDay(input: $in) { id day timezone startsAt endsAt entries accounts
	trialBalance { currency accounts debits { amount } credits { amount } dayDebits { amount } dayCredits { amount } } } }`

type dayCloseView struct {
	ID, Day, Timezone string
	StartsAt, EndsAt  time.Time
	Entries, Accounts int
	TrialBalance      []struct {
		Currency                               string
		Accounts                               int
		Debits, Credits, DayDebits, DayCredits struct{ Amount string }
	}
}

type entryView struct {
	ID                  string
	EffectiveAt         time.Time
	OriginalEffectiveAt *time.Time
}

func (x *e2e) entryOf(t *testing.T, sourceType, sourceID string) entryView {
	t.Helper()
	var page struct{ Edges []struct{ Node entryView } }
	x.ok(t, x.gql("OPERATOR", `query($f: JournalEntriesFilter!) { journalEntries(filter: $f, first: 10) {
		edges { node { id effectiveAt originalEffectiveAt } } } }`,
		map[string]any{"f": map[string]any{"sourceType": sourceType, "sourceID": sourceID}}), "journalEntries", &page)
	if len(page.Edges) != 1 {
		t.Fatalf("entries of %s %s: %+v", sourceType, sourceID, page)
	}
	return page.Edges[0].Node
}

// TestDayCloseOverGraphQL: a card payment captured through the real
// cardnet plugin and the sandbox; the day closes with its trial balance
// and statements frozen; a refund recorded later but timed in the closed
// day posts to the next day (its asked time kept); the frozen day does not
// change; a second close is CONFLICT, a day not over BAD_USER_INPUT; the
// merchant reads only its own statement lines.
func TestDayCloseOverGraphQL(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		x := newE2E(t, db, e2eSpec{connectors: []string{"cardnet", "bank"}})
		merchant := x.a.ID
		card := x.payCard(t, x.open(t, map[string]any{"amount": amountOf(10000, "SGD"), "allowedMethods": []string{"CARD"}}), "4242424242424242", cvc3)
		if card.Status != "SUCCEEDED" {
			t.Fatalf("card payment %+v", card)
		}
		captured := x.entryOf(t, "capture", card.ID).EffectiveAt.UTC()
		day := captured.Format(time.DateOnly)
		dayEnd := time.Date(captured.Year(), captured.Month(), captured.Day()+1, 0, 0, 0, 0, time.UTC)

		closeDay := func(d string) gqlResponse {
			return x.gql("OPERATOR", closeDayQuery, map[string]any{"in": map[string]any{"day": d, "timezone": "UTC"}})
		}
		if r := closeDay(day); r.code() != "BAD_USER_INPUT" {
			t.Fatalf("closing a day not over: %s", r.Raw)
		}
		if r := x.gql("API_KEY", closeDayQuery, map[string]any{"in": map[string]any{"day": day}}); r.code() != "FORBIDDEN" {
			t.Fatalf("a merchant closing a day: %s", r.Raw)
		}
		// The next morning.
		toMorning := dayEnd.Add(time.Hour).Sub(x.clock.Now())
		x.clock.Advance(toMorning)
		var dc dayCloseView
		x.ok(t, closeDay(day), "closeDay", &dc)
		if dc.Day != day || !dc.EndsAt.Equal(dayEnd) || dc.Entries < 1 || len(dc.TrialBalance) != 1 {
			t.Fatalf("close %+v", dc)
		}
		tb := dc.TrialBalance[0]
		if tb.Currency != "SGD" || tb.Debits != tb.Credits || tb.DayDebits != tb.DayCredits || atoi(t, tb.DayCredits.Amount) < 10000 {
			t.Fatalf("trial balance %+v", tb)
		}
		if r := closeDay(day); r.code() != "CONFLICT" || r.field() != "day" {
			t.Fatalf("a second close: %s", r.Raw)
		}
		if r := closeDay(dayEnd.AddDate(0, 0, 1).Format(time.DateOnly)); r.code() != "BAD_USER_INPUT" {
			t.Fatalf("closing the day after next: %s", r.Raw)
		}

		// A refund recorded now, but on a clock still in the closed day: it
		// takes effect at the next day's midnight, keeping its asked time.
		x.clock.Advance(-toMorning)
		var ref struct{ ID, Status string }
		x.ok(t, x.gql("API_KEY", refundPayment, map[string]any{"in": map[string]any{
			"id": card.ID, "amount": amountOf(2500, "SGD"), "idempotencyKey": "late-refund"}}), "refundPayment", &ref)
		if ref.Status != "SUCCEEDED" {
			t.Fatalf("refund %+v", ref)
		}
		late := x.entryOf(t, "refund", ref.ID)
		if !late.EffectiveAt.Equal(dayEnd) || late.OriginalEffectiveAt == nil || !late.OriginalEffectiveAt.Before(dayEnd) {
			t.Fatalf("the late refund's entry: %+v, want effective %s", late, dayEnd)
		}
		x.clock.Advance(toMorning)

		// The frozen day is unchanged.
		var again struct {
			dayCloseView
			Statement []struct {
				OwnerType, OwnerID, Kind, Currency string
				Opening, Debits, Credits, Closing  struct{ Amount string }
			}
		}
		x.ok(t, x.gql("OPERATOR", `query($d: String!) { dayClose(day: $d) { id day entries trialBalance { currency accounts
			debits { amount } credits { amount } dayDebits { amount } dayCredits { amount } }
			statement { ownerType ownerID kind currency opening { amount } debits { amount } credits { amount } closing { amount } } } }`,
			map[string]any{"d": day}), "dayClose", &again)
		if again.ID != dc.ID || again.Entries != dc.Entries || again.TrialBalance[0] != tb || len(again.Statement) != dc.Accounts {
			t.Fatalf("the frozen day changed: %+v, closed as %+v", again.dayCloseView, dc)
		}
		pendingAtClose := ""
		for _, ln := range again.Statement {
			if ln.OwnerType == "merchant" && ln.OwnerID == merchant && ln.Kind == "pending" {
				pendingAtClose = ln.Closing.Amount
			}
		}
		if pendingAtClose == "" || pendingAtClose == x.accountBalance(t, "MERCHANT", merchant, "PENDING", "SGD") {
			t.Fatalf("merchant pending frozen at %q; the refund has moved it since to %s", pendingAtClose,
				x.accountBalance(t, "MERCHANT", merchant, "PENDING", "SGD"))
		}
		var closes []struct{ Day string }
		x.ok(t, x.gql("OPERATOR", `{ dayCloses { day } }`, nil), "dayCloses", &closes)
		if len(closes) != 1 || closes[0].Day != day {
			t.Fatalf("dayCloses %+v", closes)
		}

		// The merchant sees its own lines only; another merchant none.
		var mine []struct{ OwnerType, OwnerID, Kind string }
		x.ok(t, x.gql("API_KEY", `query($d: String!) { dayStatement(day: $d) { ownerType ownerID kind } }`, map[string]any{"d": day}), "dayStatement", &mine)
		if len(mine) == 0 {
			t.Fatal("the merchant sees no statement lines")
		}
		for _, ln := range mine {
			if ln.OwnerType != "merchant" || ln.OwnerID != merchant {
				t.Fatalf("the merchant sees %+v", ln)
			}
		}
		if r := x.gql("OPERATOR", `query($d: String!) { dayClose(day: $d) { id } }`, map[string]any{"d": dayEnd.Format(time.DateOnly)}); r.code() != "NOT_FOUND" {
			t.Fatalf("an open day: %s", r.Raw)
		}
		x.balanced(t)
	})
}

// TestChannelPositionsOverGraphQL: the bank plugin reports the sandbox
// bank's balances beside the ledger's receivable, with their drift; the
// card network, which reports no balance, shows why beside its
// receivable; a threshold below the drift raises one
// channel.position_drift event.
func TestChannelPositionsOverGraphQL(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		x := newE2E(t, db, e2eSpec{connectors: []string{"cardnet", "bank"}})
		card := x.payCard(t, x.open(t, map[string]any{"amount": amountOf(10000, "SGD"), "allowedMethods": []string{"CARD"}}), "4242424242424242", cvc3)
		if card.Status != "SUCCEEDED" {
			t.Fatalf("card payment %+v", card)
		}
		req, _ := http.NewRequest(http.MethodGet, x.sb.URL()+"/bank/balance?currency=SGD", nil)
		req.Header.Set("Authorization", "Bearer "+sandbox.DefaultAPIKey)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var bank struct {
			Balances []struct {
				Currency           string
				Available, Pending int64
			}
		}
		err = json.NewDecoder(resp.Body).Decode(&bank)
		resp.Body.Close()
		if err != nil || len(bank.Balances) != 1 {
			t.Fatalf("sandbox balance %+v, %v", bank, err)
		}
		sandboxSGD := bank.Balances[0].Available + bank.Balances[0].Pending

		type positionView struct {
			Connector, Currency                   string
			Reported, Available, Drift, Threshold *struct{ Amount string }
			Ledger                                struct{ Amount string }
			Alerting                              bool
			Error                                 *string
		}
		const positions = `{ connector currency reported { amount } available { amount } drift { amount } threshold { amount }
			ledger { amount } alerting error }`
		find := func(ps []positionView, conn, cur string) positionView {
			t.Helper()
			for _, p := range ps {
				if p.Connector == conn && p.Currency == cur {
					return p
				}
			}
			t.Fatalf("no %s %s position in %+v", conn, cur, ps)
			return positionView{}
		}
		var ps []positionView
		x.ok(t, x.gql("OPERATOR", `{ channelPositions `+positions+` }`, nil), "channelPositions", &ps)
		b := find(ps, "bank", "SGD")
		ledgerBank := atoi(t, b.Ledger.Amount)
		if b.Error != nil || b.Reported == nil || atoi(t, b.Reported.Amount) != sandboxSGD ||
			atoi(t, b.Drift.Amount) != sandboxSGD+ledgerBank || b.Alerting {
			t.Fatalf("bank SGD %+v (sandbox %d)", b, sandboxSGD)
		}
		c := find(ps, "cardnet", "SGD")
		if c.Error == nil || c.Reported != nil || atoi(t, c.Ledger.Amount) != atoi(t, x.accountBalance(t, "CHANNEL", "cardnet", "RECEIVABLE", "SGD")) ||
			atoi(t, c.Ledger.Amount) >= 0 {
			t.Fatalf("cardnet SGD %+v", c)
		}
		if r := x.gql("API_KEY", `{ channelPositions { connector } }`, nil); r.code() != "FORBIDDEN" {
			t.Fatalf("a merchant reading positions: %s", r.Raw)
		}

		setThreshold := func(conn string, minor int64) gqlResponse {
			return x.gql("OPERATOR", `mutation($in: ChannelPositionThresholdInput!) { setChannelPositionThreshold(input: $in) { connector threshold { amount } } }`,
				map[string]any{"in": map[string]any{"connector": conn, "currency": "SGD", "threshold": amountOf(minor, "SGD")}})
		}
		if r := setThreshold("bank", -1); r.code() != "BAD_USER_INPUT" {
			t.Fatalf("a negative threshold: %s", r.Raw)
		}
		if r := setThreshold("nope", 1); r.code() != "NOT_FOUND" {
			t.Fatalf("an unknown connector: %s", r.Raw)
		}
		x.ok(t, setThreshold("bank", 100), "setChannelPositionThreshold", &struct{}{})
		for range 2 {
			x.ok(t, x.gql("OPERATOR", `mutation { checkChannelPositions `+positions+` }`, nil), "checkChannelPositions", &ps)
		}
		if b := find(ps, "bank", "SGD"); !b.Alerting || b.Threshold == nil || b.Threshold.Amount != "100" {
			t.Fatalf("bank beyond its threshold: %+v", b)
		}
		var evs struct {
			Edges []struct {
				Node struct{ Type, ObjectID string }
			}
		}
		x.ok(t, x.gql("OPERATOR", `{ events(first: 100) { edges { node { type objectID } } } }`, nil), "events", &evs)
		drifts := 0
		for _, e := range evs.Edges {
			if e.Node.Type == "channel.position_drift" && e.Node.ObjectID == "bank" {
				drifts++
			}
		}
		if drifts != 1 {
			t.Fatalf("%d drift events after two checks, want 1: %+v", drifts, evs)
		}
	})
}

// field returns the first error's extensions.field, or "".
func (r gqlResponse) field() string {
	if len(r.Errors) == 0 {
		return ""
	}
	f, _ := r.Errors[0].Extensions["field"].(string)
	return f
}
