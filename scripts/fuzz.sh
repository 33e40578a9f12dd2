#!/usr/bin/env bash
# make fuzz: builds the decoders with libFuzzer's instrumentation, links them with libFuzzer's
# main, and runs each target for FUZZ_SECONDS (default 60). Crashes land in
# fuzz/regressions/<target>/ (replayed by make test); the growing corpus stays in .build-fuzz/.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${FUZZ_SECONDS:-60}
scratch=.build-fuzz
swift build --target FuzzTargets --scratch-path "$scratch" -Xswiftc -sanitize=fuzzer -Xswiftc -DFUZZING
objects=()
for target in Domain API HTTPTransport RouterOS Gateway FuzzTargets; do
  objects+=("$scratch"/debug/"$target".build/*.o)
done
# SwiftPM renames an executable's main for its own reasons, which clashes with libFuzzer's main,
# so the fuzzer binary is linked here from the instrumented library objects.
swiftc -sanitize=fuzzer "${objects[@]}" -L/usr/lib/x86_64-linux-gnu -lcurl -o "$scratch/hotspot-fuzz"
targets=${FUZZ_TARGETS:-"payment-json payment-form fastcgi routeros conekta"}
for target in $targets; do
  corpus="$scratch/corpus/$target"
  crashes="fuzz/regressions/$target"
  mkdir -p "$corpus" "$crashes"
  [ -d "fuzz/seeds/$target" ] && cp -n fuzz/seeds/"$target"/* "$corpus"/ 2>/dev/null || true
  echo "== $target: $seconds s"
  FUZZ_TARGET=$target "$scratch/hotspot-fuzz" "$corpus" -max_total_time="$seconds" -max_len=4096 \
    -artifact_prefix="$crashes/" -print_final_stats=1 2>&1 | grep -E "^(#[0-9]+.*DONE|stat::number_of_executed_units|stat::new_units_added|==.*ERROR|SUMMARY)" || true
done
found=$(find fuzz/regressions -type f | wc -l)
echo "regression inputs kept: $found"
