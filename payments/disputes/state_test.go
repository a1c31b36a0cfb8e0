package disputes

import (
	"strings"
	"testing"

	"github.com/straitpay/strait/ent/dispute"
)

// TestStateMachineWalksEveryMove tries every state at every stage it can be
// in against every other, and checks the answer against the lifecycle of
// docs/disputes.md written out by hand: whatever is not listed is refused.
func TestStateMachineWalksEveryMove(t *testing.T) {
	const (
		I = dispute.StageINQUIRY
		C = dispute.StageCHARGEBACK
		P = dispute.StagePRE_ARBITRATION
	)
	short := map[State]string{WarningNeedsResponse: "WNR", WarningUnderReview: "WUR", WarningClosed: "WC",
		NeedsResponse: "NR", UnderReview: "UR", Won: "WON", Lost: "LOST", Accepted: "ACC"}
	stageName := map[Stage]string{I: "I", C: "C", P: "P"}
	allowed := map[string]bool{}
	for _, line := range []string{
		"WNR@I > WUR@I WC@I NR@C NR@P UR@C UR@P WON@C WON@P LOST@C LOST@P ACC@C ACC@P",
		"WUR@I > WC@I NR@C NR@P UR@C UR@P WON@C WON@P LOST@C LOST@P ACC@C ACC@P",
		"WC@I > NR@C NR@P UR@C UR@P WON@C WON@P LOST@C LOST@P ACC@C ACC@P",
		"NR@C > UR@C UR@P WON@C WON@P LOST@C LOST@P ACC@C ACC@P NR@P",
		"NR@P > UR@P WON@P LOST@P ACC@P",
		"UR@C > WON@C WON@P LOST@C LOST@P NR@P UR@P",
		"UR@P > WON@P LOST@P",
	} {
		from, tos, _ := strings.Cut(line, " > ")
		for _, to := range strings.Fields(tos) {
			allowed[from+">"+to] = true
		}
	}
	// The stages each state can be at: a warning is an inquiry.
	at := func(s State) []Stage {
		if !holdsFunds(s) {
			return []Stage{I}
		}
		return []Stage{C, P}
	}
	states := []State{WarningNeedsResponse, WarningUnderReview, WarningClosed, NeedsResponse, UnderReview, Won, Lost, Accepted}
	if len(states) != len(short) || len(transitions) != len(states) {
		t.Fatalf("the table has %d rows for %d states", len(transitions), len(states))
	}
	walked := 0
	for _, from := range states {
		for _, fs := range at(from) {
			for _, to := range states {
				for _, ts := range at(to) {
					key := short[from] + "@" + stageName[fs] + ">" + short[to] + "@" + stageName[ts]
					if got := canMove(from, fs, to, ts); got != allowed[key] {
						t.Errorf("%s: allowed %v, want %v", key, got, allowed[key])
					}
					walked++
				}
			}
		}
	}
	if walked != 13*13 {
		t.Fatalf("walked %d moves", walked)
	}
}

// TestChannelWordsMapToStates checks the mapping from the contract.
func TestChannelWordsMapToStates(t *testing.T) {
	for _, tc := range []struct {
		stage, status string
		want          State
		ok            bool
	}{
		{"inquiry", "needs_response", WarningNeedsResponse, true},
		{"inquiry", "under_review", WarningUnderReview, true},
		{"inquiry", "won", WarningClosed, true},
		{"inquiry", "lost", WarningClosed, false},
		{"chargeback", "needs_response", NeedsResponse, true},
		{"pre_arbitration", "needs_response", NeedsResponse, true},
		{"chargeback", "under_review", UnderReview, true},
		{"pre_arbitration", "won", Won, true},
		{"chargeback", "lost", Lost, true},
		{"chargeback", "accepted", Accepted, true},
		{"chargeback", "escalated", "", false},
	} {
		got, ok := stateOf(connectorsStage(tc.stage), connectorsStatus(tc.status))
		if got != tc.want || ok != tc.ok {
			t.Errorf("%s/%s = %s %v, want %s %v", tc.stage, tc.status, got, ok, tc.want, tc.ok)
		}
	}
}

func TestReasonCodesMapToCategories(t *testing.T) {
	for code, want := range map[string]Reason{"10.4": dispute.ReasonFRAUD, "13.1": dispute.ReasonNOT_RECEIVED,
		"4853": dispute.ReasonNOT_AS_DESCRIBED, "13.6": dispute.ReasonCREDIT_NOT_PROCESSED, "33": dispute.ReasonOTHER} {
		if got := reasonOf(code, ""); got != want {
			t.Errorf("%s = %s, want %s", code, got, want)
		}
	}
	if got := reasonOf("X9", "Fraudulent use"); got != dispute.ReasonFRAUD {
		t.Errorf("unknown code with fraud words = %s", got)
	}
}
