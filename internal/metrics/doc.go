// Package metrics exports the connector's metrics.
package metrics
