// Package deploytest tests what takes tcptop to other machines and to the
// engines teams already run: the log shipper recipes in docs/recipes (run
// for real against a known transfer), the systemd unit in deploy/systemd,
// the static build and the container recipe. It has tests only; the
// DaemonSet and the shipper configs that cannot run here are checked by the
// separate module deploy/configtest.
package deploytest
