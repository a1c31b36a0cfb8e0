package wire

import (
	"testing"

	"google.golang.org/protobuf/proto"

	c "github.com/straitpay/strait/connectors"
	pb "github.com/straitpay/strait/connectors/proto/connectorv1"
)

// TestMoneyWithoutExponentIsStraitsTable is the wire's compatibility rule:
// a peer built before Money.exponent sends none, and its amounts are read
// in Strait's currency-table exponent; a stated exponent, 0 included,
// crosses as it is.
func TestMoneyWithoutExponentIsStraitsTable(t *testing.T) {
	old, err := proto.Marshal(&pb.Money{Minor: 5_000_000_000, Currency: "IDR"}) // what an old peer puts on the wire
	if err != nil {
		t.Fatal(err)
	}
	var got pb.Money
	if err := proto.Unmarshal(old, &got); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name string
		in   *pb.Money
		want c.Money
	}{
		{"old peer, IDR", &got, c.Money{Minor: 5_000_000_000, Currency: "IDR", Exponent: c.Exp(0)}},
		{"old peer, USD", &pb.Money{Minor: 1050, Currency: "USD"}, c.Money{Minor: 1050, Currency: "USD", Exponent: c.Exp(2)}},
		{"stated 2 for IDR", &pb.Money{Minor: 15000, Currency: "IDR", Exponent: proto.Int32(2)}, c.Money{Minor: 15000, Currency: "IDR", Exponent: c.Exp(2)}},
		{"stated 0 for USD", &pb.Money{Minor: 10, Currency: "USD", Exponent: proto.Int32(0)}, c.Money{Minor: 10, Currency: "USD", Exponent: c.Exp(0)}},
		{"unknown currency stays unstated", &pb.Money{Minor: 1, Currency: "ZZZ"}, c.Money{Minor: 1, Currency: "ZZZ"}},
		{"no money at all", nil, c.Money{}},
	}
	for _, tc := range cases {
		if m := MoneyFromPB(tc.in); m != tc.want {
			t.Errorf("%s: %#v, want %#v", tc.name, m, tc.want)
		}
	}
	if pbm := MoneyToPB(c.Money{Minor: 1050, Currency: "USD"}); pbm.Exponent != nil {
		t.Errorf("an unstated exponent went on the wire as %d", *pbm.Exponent)
	}
	if pbm := MoneyToPB(c.Money{Minor: 150, Currency: "IDR", Exponent: c.Exp(0)}); pbm.Exponent == nil || *pbm.Exponent != 0 {
		t.Errorf("a stated 0 did not go on the wire: %v", pbm)
	}
}

// TestThreeDSCrossesTheWire: every request survives the round trip, an old
// host's request (no field) is automatic, and a value from a newer host is
// read as a challenge.
func TestThreeDSCrossesTheWire(t *testing.T) {
	for _, want := range []c.ThreeDS{c.ThreeDSAutomatic, c.ThreeDSAny, c.ThreeDSChallenge} {
		if got := AuthorizeRequestFromPB(AuthorizeRequestToPB(c.AuthorizeRequest{ThreeDS: want})).ThreeDS; got != want {
			t.Errorf("%s came back as %s", want, got)
		}
	}
	if got := AuthorizeRequestFromPB(&pb.AuthorizeRequest{}).ThreeDS; got != c.ThreeDSAutomatic {
		t.Errorf("an old host's request reads as %s", got)
	}
	if got := AuthorizeRequestFromPB(&pb.AuthorizeRequest{ThreeDs: pb.ThreeDS(9)}).ThreeDS; got != c.ThreeDSChallenge {
		t.Errorf("an unknown request reads as %s", got)
	}
	if st := PaymentStatusFromPB(PaymentStatusToPB(c.PaymentStatus{Voided: true})); !st.Voided {
		t.Error("voided lost on the wire")
	}
}
