package limits_test

import (
	"testing"

	"github.com/oppconfig/oppconfig-graphql/internal/config"
	"github.com/oppconfig/oppconfig-graphql/internal/limits"
)

// TestDeprecatedDefaultsMatchConfig keeps the deprecated limits.Defaults equal
// to the documented defaults in config.Variables while callers remain, so that
// no test runs against limits the service would not have. It goes with
// limits.Defaults.
func TestDeprecatedDefaultsMatchConfig(t *testing.T) {
	c, err := config.Defaults()
	if err != nil {
		t.Fatal(err)
	}
	if got := limits.Defaults(); got != c.Limits {
		t.Errorf("limits.Defaults() = %+v, config.Defaults().Limits = %+v", got, c.Limits)
	}
}
