// Package akri is the source of a run under the Akri operator of Azure IoT
// Operations: the device endpoints and assets assigned to this pod come from
// the mounted resource-names folder, their definitions from the ADR service
// over MQTT RPC, and configuration problems, runtime health and message
// schemas go back to ADR and the schema registry. All ADR work happens in one
// worker goroutine, in arrival order, so that one asset never has two
// runtimes; sampling itself runs in the runtime (internal/connector).
package akri

import (
	"context"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"

	"github.com/http-connector/http-connector/internal/adrclient"
	"github.com/http-connector/http-connector/internal/aiorpc"
	"github.com/http-connector/http-connector/internal/akrimount"
	"github.com/http-connector/http-connector/internal/connector"
	"github.com/http-connector/http-connector/internal/metrics"
	"github.com/http-connector/http-connector/internal/plan"
	"github.com/http-connector/http-connector/internal/statestore"
	"github.com/http-connector/http-connector/internal/watch"
)

// Options configure the source.
type Options struct {
	Env     *akrimount.Environment
	Planner *plan.Planner
	// MappingPaths are the mapping files and folders to watch; when they
	// change, ReloadPlanner gives the planner with the new library.
	MappingPaths  []string
	ReloadPlanner func() (*plan.Planner, error)
	Logger        zerolog.Logger
	// RescanPeriod is the safety-net rescan of the resource-names folder
	// and the retry period of failed ADR calls; default 10 s.
	RescanPeriod time.Duration
	// HealthPeriod is the resend period of runtime health; default 10 s.
	HealthPeriod time.Duration
	// RPCTimeout is the timeout of one ADR call; default 10 s.
	RPCTimeout time.Duration
	// RetryPolicy overrides the ADR retry policy (tests shorten it).
	RetryPolicy *aiorpc.RetryPolicy
}

// Source is the Akri operator's view of this pod.
type Source struct {
	opts  Options
	log   zerolog.Logger
	w     *worker
	state *storeState        // datasets' carried-over state
	store *statestore.Writer // BrokerStateStore destinations
}

// New returns the source; nothing is read or dialled before Prepare.
func New(o Options) *Source {
	if o.RescanPeriod <= 0 {
		o.RescanPeriod = 10 * time.Second
	}
	if o.HealthPeriod <= 0 {
		o.HealthPeriod = adrclient.DefaultHealthPeriod
	}
	// Akri mode has the broker state store: BrokerStateStore destinations
	// are served.
	if o.Planner != nil {
		o.Planner = o.Planner.WithStateStore()
	}
	if reload := o.ReloadPlanner; reload != nil {
		o.ReloadPlanner = func() (*plan.Planner, error) {
			p, err := reload()
			if p != nil {
				p = p.WithStateStore()
			}
			return p, err
		}
	}
	s := &Source{opts: o, log: o.Logger}
	s.w = newWorker(o, o.Logger)
	return s
}

// Prepare builds the broker connection the operator configured.
func (s *Source) Prepare(context.Context) (connector.Setup, error) {
	mqttOpts, err := s.opts.Env.MQTTOptions(s.log)
	if err != nil {
		return connector.Setup{}, err
	}
	// After a reconnect without the session, the ADR notification
	// preferences are set again and the definitions read again: updates may
	// have been missed.
	var connections atomic.Int64
	mqttOpts.OnConnectionUp = func(_ context.Context, sessionPresent bool) {
		if connections.Add(1) > 1 && !sessionPresent {
			s.w.post(event{kind: evReconnected})
		}
	}
	s.state = newStoreState(s.opts.Env.ConnectorID, s.log)
	s.store = statestore.NewWriter("", s.log)
	otlp := metrics.OTLPOptions{ServiceInstanceID: s.opts.Env.ConnectorID}
	otlp.Endpoint, otlp.CAFile = s.opts.Env.Observability.MetricsEndpoint()
	if ns := s.opts.Env.Namespace; ns != "" {
		otlp.Attributes = map[string]string{"k8s.namespace.name": ns}
	}
	return connector.Setup{
		MQTT:         mqttOpts,
		OTLP:         otlp,
		Secrets:      s.opts.Env.Secrets(),
		State:        s.state,
		StateStore:   s.store,
		ServeActions: true,
		Library:      s.w.mappings,
		Hooks: connector.Hooks{
			Decorate: s.w.decorator,
			DatasetState: func(asset, dataset string, err error) {
				s.w.post(event{kind: evDatasetState, asset: asset, dataset: dataset, err: err})
			},
			EndpointCredentials: func(ep *plan.Endpoint, err error) {
				s.w.post(event{kind: evCredentials, ref: akrimount.EndpointRef{Device: ep.Device, Endpoint: ep.Name}, err: err})
			},
			ActionCalled: func(call connector.ActionCall) {
				s.w.post(event{kind: evActionCalled, call: call})
			},
			EndpointAuth: func(ep *plan.Endpoint, err error) {
				s.w.post(event{kind: evAuth, ref: akrimount.EndpointRef{Device: ep.Device, Endpoint: ep.Name}, err: err})
			},
		},
	}, nil
}

// Run follows the assignments and the ADR notifications until ctx ends.
func (s *Source) Run(ctx context.Context, rt *connector.Runtime) error {
	env, log := s.opts.Env, s.log
	client := rt.MQTT()
	if env.BrokerSATFile != "" {
		rt.Go(func(ctx context.Context) {
			err := akrimount.WatchToken(ctx, env.BrokerSATFile, client.Reauthenticate, log, nil)
			if err != nil && ctx.Err() == nil {
				log.Error().Err(err).Msg("service account token watch stopped")
			}
		})
	}
	clock := aiorpc.NewClock()
	inv := aiorpc.NewInvoker(client, env.ConnectorID, clock, log)
	tel := aiorpc.NewTelemetrySender(client, env.ConnectorID, clock)
	adrOpts := adrclient.Options{Timeout: s.opts.RPCTimeout, Retry: s.opts.RetryPolicy, Logger: log}
	adrc := adrclient.New(client, inv, tel, adrOpts)
	stateClient := statestore.New(inv, statestore.Options{Timeout: s.opts.RPCTimeout})
	s.state.Bind(stateClient)
	s.store.Bind(stateClient)
	rt.Go(s.state.Run)
	rt.Go(s.store.Run)
	w := s.w
	w.start(ctx, rt, clock, adrc, adrclient.NewSchemaRegistry(inv, adrOpts), adrclient.NewStatusReporter(adrc))
	if err := adrc.OnDeviceUpdate(ctx, func(device, endpoint string, d adrDevice) {
		w.post(event{kind: evDeviceUpdate, ref: akrimount.EndpointRef{Device: device, Endpoint: endpoint}, device: &d})
	}); err != nil {
		return fmt.Errorf("subscribe to device updates: %w", err)
	}
	if err := adrc.OnAssetUpdate(ctx, func(device, endpoint, asset string, a adrAsset) {
		w.post(event{kind: evAssetUpdate, ref: akrimount.EndpointRef{Device: device, Endpoint: endpoint}, asset: asset, assetDef: &a})
	}); err != nil {
		return fmt.Errorf("subscribe to asset updates: %w", err)
	}
	rt.Go(w.run)
	if len(s.opts.MappingPaths) > 0 && s.opts.ReloadPlanner != nil {
		rt.Go(func(ctx context.Context) {
			err := watch.Run(ctx, watch.Options{
				Paths:    s.opts.MappingPaths,
				OnChange: func(context.Context) { w.post(event{kind: evMappings}) },
				OnError:  func(err error) { log.Warn().Err(err).Msg("watching the mapping files") },
			})
			if err != nil && ctx.Err() == nil {
				log.Warn().Err(err).Msg("mapping file changes are not watched; restart to apply them")
			}
		})
	}
	log.Info().Str("connector_id", env.ConnectorID).Msg("running as an Akri connector")
	err := akrimount.WatchAssignments(ctx, env.ResourcesDir, s.opts.RescanPeriod, func(a akrimount.Assignments) {
		w.post(event{kind: evAssignments, assignments: a})
	}, log)
	if err != nil && ctx.Err() == nil {
		return fmt.Errorf("watching the resource names folder: %w", err)
	}
	return nil
}

// Goodbye turns the ADR notifications off, as the SDKs do when they stop.
func (s *Source) Goodbye(ctx context.Context) {
	s.store.Flush(ctx)
	s.state.Flush(ctx)
	s.w.goodbye(ctx)
}
