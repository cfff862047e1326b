package httpapi

import "testing"

func TestValidStreamID(t *testing.T) {
	tests := []struct {
		give string
		want bool
	}{
		{give: "", want: true},
		{give: "0", want: true},
		{give: "0-0", want: true},
		{give: "1732182000000-5", want: true},
		{give: "18446744073709551615", want: true},
		{give: "18446744073709551615-18446744073709551614", want: true},
		{give: "18446744073709551614-18446744073709551615", want: true},
		{give: "18446744073709551615-18446744073709551615", want: false}, // nothing comes after it
		{give: "18446744073709551616-0", want: false},                    // beyond uint64
		{give: "1-18446744073709551616", want: false},
		{give: "99999999999999999999-0", want: false},
		{give: "1-", want: false},
		{give: "-1", want: false},
		{give: "1-2-3", want: false},
		{give: "+1-0", want: false},
		{give: "0x10-0", want: false},
		{give: "1_0-0", want: false},
		{give: "1 -0", want: false},
		{give: "１-0", want: false},
		{give: "1-0\r\nevent: forged", want: false},
		{give: "../../etc", want: false},
	}
	for _, tt := range tests {
		if got := validStreamID(tt.give); got != tt.want {
			t.Errorf("validStreamID(%q) = %v, want %v", tt.give, got, tt.want)
		}
	}
}
