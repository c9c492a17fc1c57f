package alertexporter // import "github.com/otelcol-amas/otelcol-amas/exporter/alertexporter"

import "mime"

var mimeQ = mime.QEncoding
