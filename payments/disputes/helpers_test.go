package disputes

import "github.com/straitpay/strait/connectors"

func connectorsStage(s string) connectors.DisputeStage   { return connectors.DisputeStage(s) }
func connectorsStatus(s string) connectors.DisputeStatus { return connectors.DisputeStatus(s) }
