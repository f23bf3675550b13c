package tanmarket

import (
	"fmt"
	"runtime"
	"strings"
	"testing"
	"time"
)

func TestZZExp(t *testing.T) {
	c := &Client{}
	for _, d := range []int{100, 500, 1000, 2000, 3000, 4000, 4990, 5000} {
		b := []byte(`{"code":0,"data":[{"typeId":1,"stages":[` + strings.Repeat(`{"children":[`, d) + strings.Repeat(`]}`, d) + `]}]}`)
		var m0, m1 runtime.MemStats
		runtime.ReadMemStats(&m0)
		st := time.Now()
		s, err := c.decode(200, b, "")
		el := time.Since(st)
		runtime.ReadMemStats(&m1)
		fmt.Println(d, len(b), el, (m1.TotalAlloc-m0.TotalAlloc)>>20, "MiB", s != nil, err)
	}
	for _, k := range []string{"stages", "fields"} {
		n := 100000
		b := []byte(`{"code":0,"data":[{"typeId":1,"` + k + `":[` + strings.Repeat(`{},`, n) + `{}]}]}`)
		var m0, m1 runtime.MemStats
		runtime.ReadMemStats(&m0)
		c.decode(200, b, "")
		runtime.ReadMemStats(&m1)
		fmt.Println(k, float64(m1.TotalAlloc-m0.TotalAlloc)/float64(len(b)))
	}
}
