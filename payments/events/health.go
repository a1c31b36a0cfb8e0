package events

import (
	"context"
	"fmt"
	"time"

	"github.com/straitpay/strait/ent"
	"github.com/straitpay/strait/payments/viewer"
)

// TypeConnectorHealth is the platform event of a connector's supervision
// state changing on one replica (each replica supervises its own plugin
// processes, so each reports what it sees).
const TypeConnectorHealth = "connector.health_changed"

// ConnectorHealthData is a TypeConnectorHealth event's payload.
type ConnectorHealthData struct {
	Connector string `json:"connector"`
	// Health is starting, up, restarting or down.
	Health    string `json:"health"`
	Replica   string `json:"replica"`
	LastError string `json:"last_error,omitempty"`
}

// RecordConnectorHealth writes a TypeConnectorHealth event. The state it
// reports lives in this process, not the database, so the event is the
// whole write.
func RecordConnectorHealth(ctx context.Context, client *ent.Client, d ConnectorHealthData, now time.Time) error {
	err := client.Event.Create().SetType(TypeConnectorHealth).SetObjectID(d.Connector).
		SetData(map[string]any{"connector": d.Connector, "health": d.Health, "replica": d.Replica, "last_error": d.LastError}).
		SetCreatedAt(now).Exec(viewer.SystemContext(ctx))
	if err != nil {
		return fmt.Errorf("connector health event: %w", err)
	}
	return nil
}
