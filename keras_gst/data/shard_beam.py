"""The Apache Beam side of `keras_gst.data.shards` (imports Beam at the top: import it only to run a pipeline).

    Create(items) -> Reshuffle -> EncodeVideo --main--> WriteToTFRecord(OUT/<name>-SSSSS-of-NNNNN.tfrecord)
                                              --entries--> (with the shard names) -> OUT/manifest.json
                                              --failed---> OUT/failed.tsv (with the entries that failed earlier)
"""

import contextlib
import json
import os
import shutil
import tempfile
import threading

import apache_beam as beam
from apache_beam.io.filesystems import FileSystems
from tqdm import tqdm

from keras_gst.data import shards
from keras_gst.data.extract import encode_video_frames, video_claimed_frames

FAILED_TAG = "failed"
ENTRY_TAG = "entries"
PROGRESS = ".progress"  # one byte appended per video done, by the workers (local DirectRunner runs only)


def _one_line(text):
    return " ".join(str(text).split())


class EncodeVideo(beam.DoFn):
    """(path, label, label string) -> one serialised SequenceExample; an undecodable video goes to the
    ``failed`` output as (path, reason) and the pipeline goes on. A path on another Beam filesystem
    (gs://, s3://, hdfs://) is copied to a local temporary file for the decoders first."""

    def __init__(self, short_side, quality, timeout, progress_file=None):
        self.short_side, self.quality, self.timeout = short_side, quality, timeout
        self.progress_file = progress_file

    def process(self, item):
        yield from self._encode(item)
        if self.progress_file:
            with contextlib.suppress(OSError), open(self.progress_file, "ab") as f:
                f.write(b".")

    def _encode(self, item):
        path, label, label_string = item
        local, tmp = path, None
        try:
            if shards._is_remote(path):  # noqa: SLF001
                fd, tmp = tempfile.mkstemp(suffix=os.path.splitext(path)[1])
                with os.fdopen(fd, "wb") as dst, FileSystems.open(path) as src:
                    shutil.copyfileobj(src, dst)
                local = tmp
            if not os.path.exists(local):
                raise FileNotFoundError(f"video not found: {path}")
            jpegs = list(encode_video_frames(local, short_side=self.short_side, quality=self.quality,
                                             timeout=self.timeout))
            claimed = video_claimed_frames(local, timeout=self.timeout)
        except Exception as e:  # noqa: BLE001 (a dead letter: whatever stops one video must not stop the others)
            yield beam.pvalue.TaggedOutput(FAILED_TAG, (path, _one_line(f"{type(e).__name__}: {e}")))
            return
        finally:
            if tmp is not None:
                os.remove(tmp)
        yield shards.sequence_example(jpegs, path, label, label_string)
        yield beam.pvalue.TaggedOutput(ENTRY_TAG, (path, len(jpegs), label, claimed))


def _manifest_json(_, entries, shard_files, failed_counts, failed_file, listed, settings):
    del failed_file  # a side input only so that the manifest is written after failed.tsv
    manifest = shards.make_manifest(entries, shard_files, sum(failed_counts), listed, settings)
    return json.dumps(manifest, indent=1)


@contextlib.contextmanager
def _progress_bar(out, total, show):
    """A bar of the videos done when `show` and stderr is a terminal: yields the file the workers append
    a byte to per video (`EncodeVideo`), whose size a thread shows; else yields None."""
    bar = tqdm(total=total, unit="video", desc="shard", disable=None if show else True)  # None: a terminal only
    if bar.disable:
        yield None
        return
    progress_file = os.path.join(out, PROGRESS)
    done = threading.Event()

    def poll():
        while not done.wait(0.5):
            with contextlib.suppress(OSError):
                bar.update(min(os.path.getsize(progress_file), total) - bar.n)

    thread = threading.Thread(target=poll, name="shard progress", daemon=True)
    thread.start()
    try:
        yield progress_file
    finally:
        done.set()
        thread.join()
        bar.close()
        with contextlib.suppress(OSError):
            os.remove(progress_file)


def run_pipeline(listed, out, options, *, name, num_shards, short_side, quality, timeout, settings, progress=False):
    """Build and run the pipeline writing into the folder `out` (local path or a Beam filesystem URL).
    `progress`: a bar on stderr if it is a terminal (`out` must be local, the runner's workers on this
    machine)."""
    out = out.rstrip("/")
    if not shards._is_remote(out):  # noqa: SLF001
        os.makedirs(out, exist_ok=True)
    with _progress_bar(out, len(listed.items), progress) as progress_file, beam.Pipeline(options=options) as p:
        results = (
            p
            | "Videos" >> beam.Create(listed.items)
            | "Spread" >> beam.Reshuffle()
            | "EncodeVideo" >> beam.ParDo(EncodeVideo(short_side, quality, timeout, progress_file)).with_outputs(
                FAILED_TAG, ENTRY_TAG, main="examples")
        )
        shard_files = results.examples | "WriteShards" >> beam.io.WriteToTFRecord(
            f"{out}/{name}", file_name_suffix=shards.SHARD_SUFFIX, num_shards=num_shards,
            shard_name_template=shards.SHARD_TEMPLATE)
        failed = (
            (results[FAILED_TAG], p | "ListedFailures" >> beam.Create(listed.dead))
            | "AllFailures" >> beam.Flatten()
        )
        failed_file = (
            failed
            | "FailedLines" >> beam.Map(lambda f: f"{f[0]}\t{f[1]}")
            | "WriteFailed" >> beam.io.WriteToText(f"{out}/{shards.FAILED}", shard_name_template="", num_shards=1,
                                                header="source\treason"))
        failed_count = failed | "CountFailed" >> beam.combiners.Count.Globally()
        (p
         | "Once" >> beam.Create([None])
         | "Manifest" >> beam.Map(_manifest_json, beam.pvalue.AsList(results[ENTRY_TAG]),
                                  beam.pvalue.AsList(shard_files), beam.pvalue.AsList(failed_count),
                                  beam.pvalue.AsList(failed_file), listed, settings)
         | "WriteManifest" >> beam.io.WriteToText(f"{out}/{shards.MANIFEST}", shard_name_template="", num_shards=1))
