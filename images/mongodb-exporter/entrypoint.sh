#!/bin/sh
# Entrypoint of monstack-local/mongodb-exporter: accepts the command line of the pinned
# percona/mongodb_exporter:0.47.1 image and runs Debian's older exporter
# (prometheus-mongodb-exporter 1.0.0, a build of dcu/mongodb_exporter) with the flags it knows.
#
#   percona 0.47.1                      Debian's exporter
#   --mongodb.uri=URI / env MONGODB_URI -mongodb.uri=URI
#   --web.listen-address=ADDR           -web.listen-address=ADDR
#   --web.telemetry-path=PATH           -web.metrics-path=PATH
#   --collect-all                       -mongodb.collect.database -mongodb.collect.collection
#                                       -mongodb.collect.top -mongodb.collect.connpoolstats
#   --compatible-mode                   (nothing: the old program only has the old metric names)
#   --discovering-mode                  (nothing: it has no collection discovery)
#   --log.level=L                       (nothing)
# Any other flag stops the container with a message, so a new flag in the stack is noticed.
set -eu
uri=${MONGODB_URI:-}
listen=:9216
path=/metrics
collect=""
while [ $# -gt 0 ]; do
    arg=$1
    shift
    case "$arg" in
    --*=*) name=${arg%%=*}; value=${arg#*=} ;;
    --mongodb.uri|--web.listen-address|--web.telemetry-path|--log.level)
        name=$arg; value=${1:-}; shift ;;
    *) name=$arg; value="" ;;
    esac
    case "$name" in
    --mongodb.uri) uri=$value ;;
    --web.listen-address) listen=$value ;;
    --web.telemetry-path) path=$value ;;
    --collect-all)
        collect="-mongodb.collect.database -mongodb.collect.collection -mongodb.collect.top -mongodb.collect.connpoolstats" ;;
    --compatible-mode|--discovering-mode|--log.level) ;;
    *) echo "mongodb-exporter wrapper: flag $name has no mapping to Debian's exporter (see docs/e2e.md)" >&2; exit 64 ;;
    esac
done
[ -n "$uri" ] || uri=mongodb://localhost:27017
# shellcheck disable=SC2086 # $collect is a list of flags
exec /bin/mongodb_exporter -mongodb.uri="$uri" -web.listen-address="$listen" -web.metrics-path="$path" -logtostderr $collect
