package slorender

import "errors"

// ImportOpenSLO is filled in below.
func ImportOpenSLO(data []byte, processorID string) ([]byte, error) {
	return nil, errors.New("not yet")
}
