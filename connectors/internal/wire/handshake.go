// Package wire is the go-plugin and gRPC plumbing shared by the host and
// the SDK: the handshake, the plugin set, and the conversions between the
// Go contract (package connectors) and the protobuf types. Connector
// authors never see it.
package wire

import (
	"context"
	"runtime"

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

// windowBytes is the fixed HTTP/2 flow-control window. Setting it turns
// off gRPC's bandwidth-delay probing, which sends an extra ping frame
// with every burst of data: useless on a local socket and measurable on a
// call that takes a tenth of a millisecond.
const windowBytes = 1 << 20

// ServerOptions are the gRPC server options of every plugin.
func ServerOptions() []grpc.ServerOption {
	return []grpc.ServerOption{
		grpc.MaxRecvMsgSize(MaxMessageBytes),
		grpc.MaxSendMsgSize(MaxMessageBytes),
		grpc.InitialWindowSize(windowBytes),
		grpc.InitialConnWindowSize(windowBytes),
		// Reuse goroutines across calls instead of starting one per call.
		grpc.NumStreamWorkers(uint32(runtime.GOMAXPROCS(0))),
	}
}

// DialOptions are the gRPC dial options of the host.
func DialOptions() []grpc.DialOption {
	return []grpc.DialOption{
		grpc.WithDefaultCallOptions(
			grpc.MaxCallRecvMsgSize(MaxMessageBytes),
			grpc.MaxCallSendMsgSize(MaxMessageBytes)),
		grpc.WithInitialWindowSize(windowBytes),
		grpc.WithInitialConnWindowSize(windowBytes),
	}
}
