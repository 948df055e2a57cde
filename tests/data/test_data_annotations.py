"""Annotation readers on the real files in tests/assets/real/annotations (see its SOURCE.md)."""

import json
import logging

import pytest

from keras_gst.data import annotations as A


@pytest.fixture(scope="module")
def ann(real_data):
    return real_data / "annotations"


# --- generic list files -------------------------------------------------------------------------


def test_gst_tab_list_on_real_frame_folders(real_data, ann):
    names = A.read_label_map(ann / "sthv2" / "label_map.txt")
    a = A.read_list_file(ann / "generic" / "list_gst_tab.txt", root=real_data / "rawframes", class_names=names)
    assert [(r.path.split("rawframes/")[1], r.num_frames, r.label) for r in a.records] == [
        ("gst_style/57082", 38, 10), ("ssv2/2", 48, 68), ("ssv2/13201", 49, 79), ("ssv2/3201", 43, 32)]
    assert a.class_names[79] == "Pretending to sprinkle air onto something"
    assert not a.skipped


def test_tsn_space_list_equals_tab_list(real_data, ann):
    tab = A.read_list_file(ann / "generic" / "list_gst_tab.txt", root=real_data / "rawframes")
    space = A.read_list_file(ann / "generic" / "list_tsn_space.txt", root=real_data / "rawframes")
    assert tab.records == space.records and len(space.records) == 4


def test_video_list(real_data, ann):
    a = A.read_list_file(ann / "generic" / "list_videos_space.txt", root=real_data / "videos",
                         class_names=ann / "kinetics" / "label_map_k400.txt")
    (r,) = a.records
    assert r.is_video and r.num_frames is None and r.label == 6
    assert a.class_names[6] == "arm wrestling" and len(a.class_names) == 400


def test_mmaction2_lists(real_data, ann):
    mm = ann / "mmaction2"
    frames = real_data / "rawframes"
    plain = A.read_list_file(mm / "rawframe_test_list.txt", root=frames)
    assert [(r.num_frames, r.label, r.offset) for r in plain.records] == [(5, 127, 0)] * 2
    offset = A.read_list_file(mm / "rawframe_test_list_with_offset.txt", root=frames, with_offset=True)
    assert [(r.num_frames, r.label, r.offset) for r in offset.records] == [(5, 127, 2)] * 2
    multi = A.read_list_file(mm / "rawframe_test_list_multi_label.txt", root=frames, multi_label=True)
    assert [r.label for r in multi.records] == [(1,), (3, 5)]
    videos = A.read_list_file(mm / "video_test_list.txt", root=real_data / "videos")
    assert [r.label for r in videos.records] == [0, 0] and videos.records[0].path.endswith("test.mp4")
    vmulti = A.read_list_file(mm / "video_test_list_multi_label.txt", root=real_data / "videos",
                              multi_label=True)
    assert [r.label for r in vmulti.records] == [(0, 3), (0, 2, 4)]


def test_ambiguous_four_columns_need_an_option(real_data, ann):
    path = ann / "mmaction2" / "rawframe_test_list_multi_label.txt"
    with pytest.raises(A.AnnotationError, match=r"rawframe_test_list_multi_label.txt, line 2: .*multi_label"):
        A.read_list_file(path, root=real_data / "rawframes")


def test_label_out_of_range_names_file_and_line(real_data, ann):
    path = ann / "mmaction2" / "rawframe_test_list.txt"
    with pytest.raises(A.AnnotationError, match=r"rawframe_test_list.txt, line 1: label 127 is out of range"):
        A.read_list_file(path, root=real_data / "rawframes", num_classes=100)


def test_missing_source_raise_and_counted_skip(tmp_path, real_data, caplog):
    lst = tmp_path / "list.txt"
    lst.write_text("ssv2/2\t48\t68\nssv2/does_not_exist\t10\t1\nssv2/3201\t43\t32\n")
    with pytest.raises(A.AnnotationError, match=r"list.txt, line 2: source not found: .*does_not_exist"):
        A.read_list_file(lst, root=real_data / "rawframes")
    with caplog.at_level(logging.WARNING):
        a = A.read_list_file(lst, root=real_data / "rawframes", on_error="skip")
    assert [r.label for r in a.records] == [68, 32]
    assert len(a.skipped) == 1 and "line 2" in a.skipped[0] and "does_not_exist" in a.skipped[0]
    assert "skipped 1 bad entries" in caplog.text


def test_malformed_line_names_line(tmp_path):
    lst = tmp_path / "bad.txt"
    lst.write_text("a 3 1\nb three 1\n")
    with pytest.raises(A.AnnotationError, match=r"bad.txt, line 2: expected integers"):
        A.read_list_file(lst, check_files=False)


def test_missing_annotation_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="nope.txt"):
        A.read_list_file(tmp_path / "nope.txt")


# --- Something-Something ------------------------------------------------------------------------


def test_sthv1_splits(ann, tmp_path):
    v1 = ann / "sthv1"
    labels = v1 / "something-something-v1-labels.csv"
    train = A.read_sthv1(v1 / "something-something-v1-train.csv", labels, tmp_path, check_files=False)
    assert len(train.records) == 40 and len(train.class_names) == 174
    first = train.records[0]
    assert first.path.endswith("100218") and train.class_names[first.label] == \
        "Something falling like a feather or paper"
    assert A.read_label_map(v1 / "label_map.txt") == train.class_names
    val = A.read_sthv1(v1 / "something-something-v1-validation.csv", labels, tmp_path, check_files=False)
    assert len(val.records) == 40 and val.class_names[val.records[0].label] == \
        "Lifting up one end of something without letting it drop down"
    test = A.read_sthv1(v1 / "something-something-v1-test.csv", labels, tmp_path, check_files=False)
    assert {r.label for r in test.records} == {-1} and len(test.records) == 40


def test_sthv1_counts_frames_and_rejects_unknown_class(ann, real_data, tmp_path):
    csv = tmp_path / "split.csv"
    csv.write_text("57082;Dropping something into something\n57082;Juggling cats\n")
    labels = ann / "sthv1" / "something-something-v1-labels.csv"
    a = A.read_sthv1(csv, labels, real_data / "rawframes" / "gst_style", on_error="skip")
    assert [(r.num_frames, a.class_names[r.label]) for r in a.records] == [
        (38, "Dropping something into something")]
    assert "line 2: unknown class name 'Juggling cats'" in a.skipped[0]


def test_sthv2_validation_and_test_json(ann, tmp_path):
    v2 = ann / "sthv2"
    labels = v2 / "something-something-v2-labels.json"
    val = A.read_sthv2(v2 / "something-something-v2-validation.json", labels, tmp_path, check_files=False)
    assert len(val.records) == 40 and val.records[0].path.endswith("74225.webm")
    raw = json.loads((v2 / "something-something-v2-validation.json").read_text())
    for entry, record in zip(raw, val.records):
        name = val.class_names[record.label]
        assert name == entry["template"].replace("[", "").replace("]", "")
        assert json.loads(labels.read_text())[name] == str(record.label)
    assert A.read_label_map(v2 / "label_map.txt") == val.class_names
    test = A.read_sthv2(v2 / "something-something-v2-test.json", labels, tmp_path, check_files=False)
    assert len(test.records) == 40 and {r.label for r in test.records} == {-1}


def test_sthv2_rawframes_subset(ann, real_data):
    v2 = ann / "sthv2"
    labels = v2 / "something-something-v2-labels.json"
    a = A.read_sthv2(v2 / "rawframes_subset_labeled.json", labels, real_data / "rawframes" / "ssv2",
                     source="rawframes", on_error="skip")
    # 57082 lives in gst_style/, not ssv2/: a counted skip naming it
    assert [(r.path.rsplit("/", 1)[1], r.num_frames, r.label) for r in a.records] == [
        ("2", 48, 68), ("13201", 49, 79), ("3201", 43, 32)]
    assert len(a.skipped) == 1 and "rawframes_subset_labeled.json, entry 3: source not found" in a.skipped[0]
    assert a.skipped[0].endswith("ssv2/57082")
    unl = A.read_sthv2(v2 / "rawframes_subset_unlabeled.json", labels, real_data / "rawframes" / "ssv2",
                       source="rawframes")
    assert [(r.num_frames, r.label) for r in unl.records] == [(47, -1), (33, -1)]
    vid = A.read_sthv2(v2 / "rawframes_subset_labeled.json", labels, real_data / "videos" / "sthv2",
                       on_error="skip")
    assert [(r.path.rsplit("/", 1)[1], r.label) for r in vid.records] == [("13201.webm", 79)]


def test_ssv2_flip_pairs_derived_from_names(ann):
    names = A.read_label_map(ann / "sthv2" / "label_map.txt")
    flip_map, unpaired = A.derive_flip_map(names)
    assert flip_map == A.pairs_to_map(A.SSV2_FLIP_PAIRS) == {86: 87, 87: 86, 93: 94, 94: 93, 166: 167, 167: 166}
    assert unpaired == ["Plugging something into something but pulling it right out as you remove your hand"]
    v1 = A.read_label_map(ann / "sthv1" / "label_map.txt")
    assert A.derive_flip_map(v1)[0] == A.pairs_to_map(A.SSV1_FLIP_PAIRS)
    # the authors apply the V2 ids to V1: wrong there
    assert A.derive_flip_map(v1)[0] != A.pairs_to_map(A.SSV2_FLIP_PAIRS)


def test_flip_map_rotations_and_no_false_pairs():
    names = ["rotating clockwise", "rotating counterclockwise", "Putting something upright", "growing"]
    assert A.derive_flip_map(names) == ({0: 1, 1: 0}, [])


# --- Diving48, EPIC-KITCHENS, EGTEA ------------------------------------------------------------


def test_diving48_v2(ann, tmp_path):
    d = ann / "diving48"
    train = A.read_diving48(d / "Diving48_V2_train.json", d / "Diving48_vocab.json", tmp_path, check_files=False)
    assert len(train.records) == 15027 and len(train.class_names) == 48
    assert train.class_names == A.read_label_map(d / "label_map.txt")
    r = train.records[0]
    assert r.path.endswith("-mmq0PT-u8k_00155.mp4") and (r.offset, r.num_frames, r.label) == (0, 48, 0)
    raw = json.loads((d / "Diving48_V2_train.json").read_text())
    assert [(x.label, x.num_frames) for x in train.records] == [
        (e["label"], e["end_frame"] - e["start_frame"]) for e in raw]
    assert max(x.label for x in train.records) == 47
    test = A.read_diving48(d / "Diving48_V2_test.json", d / "Diving48_vocab.json", tmp_path,
                           source="rawframes", check_files=False)
    assert len(test.records) == 1970 and not test.records[0].is_video


def test_epic100_verb_noun_action(ann, tmp_path):
    e = ann / "epic100"
    kw = dict(verb_classes_csv=e / "EPIC_100_verb_classes.csv", noun_classes_csv=e / "EPIC_100_noun_classes.csv",
              check_files=False)
    verb = A.read_epic_kitchens(e / "EPIC_100_validation.csv", tmp_path, **kw)
    assert len(verb.records) == 40 and len(verb.class_names) == 97
    r = verb.records[0]  # P01_11_0: take plate, frames 1..113
    assert r.path.endswith("P01/P01_11") and (r.offset, r.num_frames, r.label) == (0, 113, 0)
    assert verb.class_names[r.label] == "take"
    noun = A.read_epic_kitchens(e / "EPIC_100_validation.csv", tmp_path, target="noun", **kw)
    assert len(noun.class_names) == 300 and noun.class_names[noun.records[0].label] == "plate"
    action = A.read_epic_kitchens(e / "EPIC_100_validation.csv", tmp_path, target="action", **kw)
    assert action.class_names[action.records[0].label] == "take plate"
    assert len(action.class_names) == len({(x.split()[0]) + x for x in action.class_names})
    videos = A.read_epic_kitchens(e / "EPIC_100_validation.csv", tmp_path, source="videos", **kw)
    assert videos.records[1].path.endswith("P01/P01_11.MP4") and videos.records[1].offset == 92


def test_epic55(ann, tmp_path):
    e = ann / "epic55"
    a = A.read_epic_kitchens(e / "EPIC_train_action_labels.csv", tmp_path, verb_classes_csv=e / "EPIC_verb_classes.csv",
                             noun_classes_csv=e / "EPIC_noun_classes.csv", check_files=False)
    assert len(a.records) == 40 and len(a.class_names) == 125
    r = a.records[0]  # open door, frames 8..202
    assert (r.offset, r.num_frames) == (7, 195) and a.class_names[r.label] == "open"


def test_epic_label_out_of_range(tmp_path, ann):
    csv = tmp_path / "ann.csv"
    csv.write_text("video_id,start_frame,stop_frame,verb_class,noun_class\nP01_01,1,10,200,1\n")
    with pytest.raises(A.AnnotationError, match=r"ann.csv, line 2: label 200 is out of range \[0, 97\)"):
        A.read_epic_kitchens(csv, tmp_path, verb_classes_csv=ann / "epic100" / "EPIC_100_verb_classes.csv",
                             check_files=False)


def test_egtea_split(ann, tmp_path):
    g = ann / "egtea"
    kw = dict(action_idx=g / "action_idx.txt", verb_idx=g / "verb_idx.txt", noun_idx=g / "noun_idx.txt",
              check_files=False)
    train = A.read_egtea(g / "train_split1.txt", tmp_path, **kw)
    assert len(train.records) == 42 and len(train.class_names) == 106
    r = train.records[0]
    assert r.path.endswith("P21-R04-ContinentalBreakfast/P21-R04-ContinentalBreakfast-291175-294945-F006979-F007088.mp4")
    assert r.label == 0 and train.class_names[0] == "Inspect/Read recipe"  # 1-indexed -> 0
    assert len({x.label for x in train.records}) == 37
    verbs = A.read_egtea(g / "test_split1.txt", tmp_path, target="verb", **kw)
    assert len(verbs.records) == 41 and len(verbs.class_names) == 19 and verbs.records[0].label == 0
    nouns = A.read_egtea(g / "test_split1.txt", tmp_path, target="noun", **kw)
    assert len(nouns.class_names) == 53 and max(x.label for x in nouns.records) < 53


def test_egtea_zero_label_rejected(tmp_path, ann):
    split = tmp_path / "split.txt"
    split.write_text("OP01-R01-PastaSalad-1-2-F1-F2 0 1 1\n")
    with pytest.raises(A.AnnotationError, match=r"split.txt, line 1: action id 0 is not 1-indexed"):
        A.read_egtea(split, tmp_path, check_files=False)
