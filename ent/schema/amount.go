package schema

// MinorUnits annotates an int64 field as an amount in minor units of the
// currency held by the entity's Currency field (a column such as
// "currency"). ent/template/money.tmpl gives the entity an accessor
// <Field>Money() that returns the two together as one money.Amount: the type
// GraphQL's Money binds to, so no resolver builds it from loose fields.
type MinorUnits struct {
	Currency string `json:"currency"`
}

// Name implements schema.Annotation.
func (MinorUnits) Name() string { return "MinorUnits" }

// inCurrency marks an amount field in the entity's "currency" column.
var inCurrency = MinorUnits{Currency: "currency"}
