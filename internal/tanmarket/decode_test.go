package tanmarket

import (
	"errors"
	"testing"
)

func TestDecodeBoundsStageDepth(t *testing.T) {
	c := &Client{}
	tests := []struct {
		name    string
		depth   int
		wantErr bool
	}{
		{"at the bound", MaxStageDepth, false},
		{"one over", MaxStageDepth + 1, true},
		{"1 200 levels", 1200, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			snap, err := c.decode(200, nestedChildren(tt.depth), "") // tt.depth stages, one per level
			if tt.wantErr {
				if err == nil || !errors.Is(err, ErrBadResponse) {
					t.Fatalf("want ErrBadResponse, got %v", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := len(snap.Types()[0].AllStages()); got != tt.depth {
				t.Errorf("stages = %d, want %d", got, tt.depth)
			}
		})
	}
}

func TestDecodeDropsNonObjectChildren(t *testing.T) {
	c := &Client{}
	snap, err := c.decode(200, []byte(`{"code":0,"data":[{"typeId":7,"stages":[{"id":1,"possibility":12345678901,"children":["string",{"id":2},3,null]}]}]}`), "")
	if err != nil {
		t.Fatal(err)
	}
	st := snap.Type(7).Stage(1)
	if st == nil || len(st.Children) != 1 || st.Children[0].ID != 2 || st.Possibility != 12345678901 {
		t.Fatalf("got %+v", st)
	}
}
