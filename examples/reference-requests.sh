#!/usr/bin/env bash
# Sends the four requests of the Customers reference page (create, list, retrieve, update) with
# the page's paths and bodies, only the host changed, and checks each answer.
#
#   examples/reference-requests.sh BASE_URL KEY
#   examples/reference-requests.sh http://127.0.0.1:8080 rv_live_…
#
# Prints `ok <request>` per answer that matches; exits 1 at the first that does not.
# Needs bash, curl and python3.
set -euo pipefail

if [[ $# -ne 2 ]]; then
  echo "usage: $0 BASE_URL KEY" >&2
  exit 2
fi
base=${1%/}/api/v1
key=$2
answer=$(mktemp)
trap 'rm -f "$answer"' EXIT

# request METHOD PATH [BODY]: sends it, leaves the body in $answer, prints the status.
request() {
  local args=(-sS -o "$answer" -w '%{http_code}' -X "$1" "$base$2" -H "Authorization: Bearer $key")
  if [[ $# -eq 3 ]]; then
    args+=(-H 'Content-Type: application/json' -d "$3")
  fi
  curl "${args[@]}"
}

# check NAME WANT_STATUS GOT_STATUS PYTHON: the status, then the assertions about `body`.
check() {
  if [[ $3 != "$2" ]]; then
    echo "FAIL $1: status $3, expected $2: $(cat "$answer")" >&2
    exit 1
  fi
  if ! python3 -c "import json, sys
body = json.load(open(sys.argv[1]))
$4" "$answer" "${@:5}"; then
    echo "FAIL $1: unexpected answer: $(cat "$answer")" >&2
    exit 1
  fi
  echo "ok $1"
}

# field NAME: one field of the last answer.
field() {
  python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])' "$answer" "$1"
}

status=$(request POST /customers '{
"full_name": "Jane Doe",
"email": "jane@example.com",
"phone": "+14155550100"
}')
check "create a customer" 201 "$status" '
assert body["object"] == "customer"
assert body["id"].startswith("cu_") and len(body["id"]) == 39
assert body["full_name"] == "Jane Doe"
assert body["email"] == "jane@example.com"
assert body["phone"] == "+14155550100"
assert body["preferred_language"] == "en"'
id=$(field id)

status=$(request GET /customers)
check "list customers" 200 "$status" '
assert body["object"] == "list"
assert isinstance(body["has_more"], bool)
assert body["next_cursor"] is None or body["next_cursor"].startswith("cu_")
assert sys.argv[2] in [c["id"] for c in body["data"]]
assert all(c["object"] == "customer" for c in body["data"])' "$id"

status=$(request GET "/customers/${id#cu_}")
check "retrieve a customer" 200 "$status" '
assert body["object"] == "customer"
assert body["id"] == sys.argv[2]
assert body["full_name"] == "Jane Doe"' "$id"

status=$(request PATCH "/customers/${id#cu_}" '{
"email": "new@example.com",
"phone": "+14155550101",
"notes": "Prefers morning pickups."
}')
check "update a customer" 200 "$status" '
assert body["object"] == "customer"
assert body["id"] == sys.argv[2]
assert body["email"] == "new@example.com"
assert body["phone"] == "+14155550101"
assert body["notes"] == "Prefers morning pickups."
assert body["full_name"] == "Jane Doe"' "$id"
