// Package akri runs the connector under the Akri operator of Azure IoT
// Operations: the device endpoints and assets assigned to this pod come from
// the mounted resource-names folder, their definitions from the ADR service
// over MQTT RPC, and configuration problems, runtime health and message
// schemas go back to ADR and the schema registry. All ADR work happens in one
// worker goroutine, in arrival order, so that one asset never has two
// runtimes; sampling itself runs in the connector.
package akri

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"

	"github.com/http-connector/http-connector/internal/adrclient"
	"github.com/http-connector/http-connector/internal/aiorpc"
	"github.com/http-connector/http-connector/internal/akrimount"
	"github.com/http-connector/http-connector/internal/connector"
	"github.com/http-connector/http-connector/internal/fetch"
	"github.com/http-connector/http-connector/internal/mqttclient"
	"github.com/http-connector/http-connector/internal/plan"
	"github.com/http-connector/http-connector/internal/sampling"
	"github.com/http-connector/http-connector/internal/watch"
)

// Options configure an Akri-mode run.
type Options struct {
	Env     *akrimount.Environment
	Planner *plan.Planner
	// MappingPaths are the mapping files and folders to watch; when they
	// change, ReloadPlanner gives the planner with the new library.
	MappingPaths  []string
	ReloadPlanner func() (*plan.Planner, error)
	Logger        zerolog.Logger
	// Fetch holds the HTTP limits of device requests.
	Fetch fetch.Options
	// Publisher, if set, wraps the MQTT client for dataset messages (a
	// queue); by default messages go straight to the client.
	Publisher func(*mqttclient.Client) (Publisher, error)
	// RescanPeriod is the safety-net rescan of the resource-names folder
	// and of credential files; default 10 s.
	RescanPeriod time.Duration
	// HealthPeriod is the resend period of runtime health; default 10 s.
	HealthPeriod time.Duration
	// RPCTimeout is the timeout of one ADR call; default 10 s.
	RPCTimeout time.Duration
	// RetryPolicy overrides the ADR retry policy (tests shorten it).
	RetryPolicy *aiorpc.RetryPolicy
	// ShutdownTimeout bounds the goodbye to ADR and the broker.
	ShutdownTimeout time.Duration
	// Ready, if set, is called after the first assignment scan was applied.
	Ready func()
}

// Publisher sends dataset messages and is closed (flushed) at shutdown.
type Publisher interface {
	sampling.Publisher
	Close(ctx context.Context) error
}

type directPublisher struct{ *mqttclient.Client }

func (directPublisher) Close(context.Context) error { return nil }

// Run connects to the broker, follows the assignments and samples until ctx
// ends, then says goodbye to ADR and disconnects.
func Run(ctx context.Context, o Options) error {
	env := o.Env
	log := o.Logger
	if o.RescanPeriod <= 0 {
		o.RescanPeriod = 10 * time.Second
	}
	if o.HealthPeriod <= 0 {
		o.HealthPeriod = adrclient.DefaultHealthPeriod
	}
	if o.ShutdownTimeout <= 0 {
		o.ShutdownTimeout = 10 * time.Second
	}
	mqttOpts, err := env.MQTTOptions(log)
	if err != nil {
		return err
	}
	// After a reconnect without the session, the ADR notification
	// preferences are set again and the definitions read again: updates may
	// have been missed.
	var current atomic.Pointer[worker]
	var connections atomic.Int64
	mqttOpts.OnConnectionUp = func(_ context.Context, sessionPresent bool) {
		if w := current.Load(); connections.Add(1) > 1 && !sessionPresent && w != nil {
			w.post(event{kind: evReconnected})
		}
	}
	// The connection outlives ctx: the goodbye to ADR and the flush of
	// queued messages need it; Close ends it.
	client, err := mqttclient.Connect(context.WithoutCancel(ctx), mqttOpts)
	if err != nil {
		return err
	}
	defer func() {
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), o.ShutdownTimeout)
		defer cancel()
		if err := client.Close(sctx); err != nil {
			log.Warn().Err(err).Msg("mqtt disconnect")
		}
	}()

	var wg sync.WaitGroup
	defer wg.Wait()
	runCtx, stop := context.WithCancel(ctx)
	defer stop()
	if env.BrokerSATFile != "" {
		wg.Add(1)
		go func() {
			defer wg.Done()
			err := akrimount.WatchToken(runCtx, env.BrokerSATFile, client.Reauthenticate, log)
			if err != nil && runCtx.Err() == nil {
				log.Error().Err(err).Msg("service account token watch stopped")
			}
		}()
	}

	var pub Publisher = directPublisher{client}
	if o.Publisher != nil {
		if pub, err = o.Publisher(client); err != nil {
			return err
		}
	}

	clock := aiorpc.NewClock()
	inv := aiorpc.NewInvoker(client, env.ConnectorID, clock, log)
	tel := aiorpc.NewTelemetrySender(client, env.ConnectorID, clock)
	adrOpts := adrclient.Options{Timeout: o.RPCTimeout, Retry: o.RetryPolicy, Logger: log}
	adrc := adrclient.New(client, inv, tel, adrOpts)

	w := newWorker(o, log, clock, adrc, adrclient.NewSchemaRegistry(inv, adrOpts), adrclient.NewStatusReporter(adrc))
	current.Store(w)
	w.conn = connector.New(connector.Options{
		Logger:      log,
		Publisher:   pub,
		Fetch:       o.Fetch,
		Credentials: w.credentials,
		Decorator:   w.decorator,
		OnDatasetState: func(asset, dataset string, err error) {
			w.post(event{kind: evDatasetState, asset: asset, dataset: dataset, err: err})
		},
	})
	if err := adrc.OnDeviceUpdate(runCtx, func(device, endpoint string, d adrDevice) {
		w.post(event{kind: evDeviceUpdate, ref: akrimount.EndpointRef{Device: device, Endpoint: endpoint}, device: &d})
	}); err != nil {
		return fmt.Errorf("subscribe to device updates: %w", err)
	}
	if err := adrc.OnAssetUpdate(runCtx, func(device, endpoint, asset string, a adrAsset) {
		w.post(event{kind: evAssetUpdate, ref: akrimount.EndpointRef{Device: device, Endpoint: endpoint}, asset: asset, assetDef: &a})
	}); err != nil {
		return fmt.Errorf("subscribe to asset updates: %w", err)
	}

	wg.Add(3)
	go func() {
		defer wg.Done()
		w.conn.Run(runCtx)
	}()
	go func() {
		defer wg.Done()
		w.run(runCtx)
	}()
	go func() {
		defer wg.Done()
		err := akrimount.WatchAssignments(runCtx, env.ResourcesDir, o.RescanPeriod, func(a akrimount.Assignments) {
			w.post(event{kind: evAssignments, assignments: a})
		}, log)
		if err != nil && runCtx.Err() == nil {
			log.Error().Err(err).Msg("watching the resource names folder stopped")
			stop()
		}
	}()
	if len(o.MappingPaths) > 0 && o.ReloadPlanner != nil {
		wg.Add(1)
		go func() {
			defer wg.Done()
			err := watch.Run(runCtx, watch.Options{
				Paths:    o.MappingPaths,
				OnChange: func(context.Context) { w.post(event{kind: evMappings}) },
				OnError:  func(err error) { log.Warn().Err(err).Msg("watching the mapping files") },
			})
			if err != nil && runCtx.Err() == nil {
				log.Warn().Err(err).Msg("mapping file changes are not watched; restart to apply them")
			}
		}()
	}
	log.Info().Str("connector_id", env.ConnectorID).Str("broker", mqttOpts.Servers[0].String()).Msg("running as an Akri connector")

	<-runCtx.Done()
	stop()
	wg.Wait()

	// Goodbye: notifications off, queued messages flushed.
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), o.ShutdownTimeout)
	defer cancel()
	w.goodbye(sctx)
	if err := pub.Close(sctx); err != nil {
		log.Warn().Err(err).Msg("publisher flush")
	}
	if errors.Is(ctx.Err(), context.Canceled) || ctx.Err() == nil {
		return nil
	}
	return ctx.Err()
}
