package slo

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/otelcol-amas/otelcol-amas/internal/harness"
)

// The built collector reads windows written in days and weeks (and an SLO without a window gets
// 30 days): the window labels it exports are those windows.
const daysConfig = `
extensions:
  health_check:
    endpoint: 127.0.0.1:${HEALTH}
receivers:
  otlp:
    protocols:
      grpc:
        endpoint: 127.0.0.1:${OTLP}
processors:
  slo:
    evaluation_interval: 1s
    resolved_retention: 1d
    slos:
      - name: weekly_availability
        objective: 0.99
        window: 1w
        sli:
          spans:
            conditions: ['attributes["gen_ai.operation.name"] == "invoke_agent"']
            bad_conditions: ['status.code == STATUS_CODE_ERROR']
        alerting:
          burn_rate_rules:
            - {severity: page, long_window: 1h, short_window: 5m, burn_rate: 14.4}
            - {severity: ticket, long_window: 3d, short_window: 6h, budget_consumed: 0.5}
      - name: default_window
        objective: 0.995
        sli:
          spans:
            bad_conditions: ['status.code == STATUS_CODE_ERROR']
exporters:
  debug:
    verbosity: basic
  prometheus:
    endpoint: 127.0.0.1:${PROM}
service:
  extensions: [health_check]
  telemetry:
    metrics:
      level: none
  pipelines:
    traces:
      receivers: [otlp]
      processors: [slo]
      exporters: [debug]
    metrics:
      receivers: [otlp]
      processors: [slo]
      exporters: [prometheus]
`

func TestDayAndWeekWindowsInTheCollectorConfig(t *testing.T) {
	health, otlp, prom := harness.FreePort(t), harness.FreePort(t), harness.FreePort(t)
	cfg := strings.NewReplacer("${HEALTH}", fmt.Sprint(health), "${OTLP}", fmt.Sprint(otlp), "${PROM}", fmt.Sprint(prom)).Replace(daysConfig)
	harness.StartCollector(t, cfg, health)
	url := harness.MetricsURL(prom)
	want := []struct {
		slo, window string
	}{
		{"weekly_availability", "5m"}, {"weekly_availability", "6h"}, {"weekly_availability", "3d"}, {"weekly_availability", "7d"},
		{"default_window", "30d"},
	}
	harness.Eventually(t, 60*time.Second, 250*time.Millisecond, func() (bool, string) {
		fams, err := harness.ScrapeFamilies(url)
		if err != nil {
			return false, err.Error()
		}
		for _, w := range want {
			if _, ok := harness.SeriesValue(fams, "amas_slo_sli_ratio", map[string]string{"slo": w.slo, "window": w.window}); !ok {
				return false, fmt.Sprintf("no amas_slo_sli_ratio{slo=%q,window=%q}", w.slo, w.window)
			}
		}
		return true, ""
	})
}
