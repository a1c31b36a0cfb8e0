// Package wire is the go-plugin and gRPC plumbing shared by the host and
// the SDK: the handshake, the plugin set, and the conversions between the
// Go contract (package connectors) and the protobuf types. Connector
// authors never see it.
package wire

import (
	"context"

	"github.com/hashicorp/go-plugin"
	"google.golang.org/grpc"

	pb "github.com/straitpay/strait/connectors/proto/connectorv1"
)

// ProtocolVersion is the connector protocol this build speaks: the
// strait.connector.v1 gRPC service. A new incompatible service gets a new
// number, and the host lists every number it still serves.
const ProtocolVersion = 1

// PluginName is the name of the single plugin in each versioned set.
const PluginName = "connector"

// Handshake is the go-plugin handshake. The cookie is not a secret: it
// only stops a connector binary from being run by hand by mistake.
var Handshake = plugin.HandshakeConfig{
	ProtocolVersion:  ProtocolVersion,
	MagicCookieKey:   "STRAIT_CONNECTOR_PLUGIN",
	MagicCookieValue: "c0nnect0r-v1-2f6a1d3e",
}

// MaxMessageBytes bounds every gRPC message in both directions. A day's
// settlement report of a busy channel is a few MB; 16 MiB leaves room
// while keeping a misbehaving plugin from making the host allocate
// without limit (gRPC's own default is 4 MiB).
const MaxMessageBytes = 16 << 20

// GRPCPlugin is the go-plugin GRPCPlugin for the connector service. The
// plugin side sets Server; the host side leaves it nil.
type GRPCPlugin struct {
	plugin.NetRPCUnsupportedPlugin
	Impl pb.ConnectorServer
}

// GRPCServer registers the connector service on the plugin's server.
func (p *GRPCPlugin) GRPCServer(_ *plugin.GRPCBroker, s *grpc.Server) error {
	pb.RegisterConnectorServer(s, p.Impl)
	return nil
}

// GRPCClient returns a pb.ConnectorClient on the host side.
func (p *GRPCPlugin) GRPCClient(_ context.Context, _ *plugin.GRPCBroker, c *grpc.ClientConn) (any, error) {
	return pb.NewConnectorClient(c), nil
}

// PluginSets returns the versioned plugin sets for srv (nil on the host).
func PluginSets(srv pb.ConnectorServer) map[int]plugin.PluginSet {
	return map[int]plugin.PluginSet{
		ProtocolVersion: {PluginName: &GRPCPlugin{Impl: srv}},
	}
}
