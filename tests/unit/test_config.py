"""Audience definition files: valid ones load, every invalid one names file, field and fix."""

from __future__ import annotations

from pathlib import Path

import pytest

from tiktok_audiences.definitions import AudienceDefinitionError, load_audiences, parse_audience_file


def write(directory: Path, name: str, text: str) -> Path:
    path = directory / name
    path.write_text(text)
    return path


def problems_of(tmp_path: Path, text: str) -> list[str]:
    definition, problems = parse_audience_file(write(tmp_path, "audience.yaml", text))
    assert definition is None
    return [str(p) for p in problems]


def test_minimal_definition_gets_the_documented_defaults(tmp_path):
    definition, problems = parse_audience_file(write(tmp_path, "vip.yaml", "name: VIP\ninclude_segments: [4]\n"))
    assert problems == []
    assert definition.dag_id == "tiktok_audience__vip"
    assert definition.integration == "tiktok_default"
    assert definition.identifiers == ("email", "phone", "maid")
    assert definition.schedule == "@daily"
    assert definition.exclude_segments == ()


def test_missing_include_list_names_file_field_and_fix(tmp_path):
    [problem] = problems_of(tmp_path, "name: VIP\n")
    assert "audience.yaml" in problem and "'include_segments'" in problem and "Fix:" in problem


def test_name_over_128_characters_is_refused(tmp_path):
    [problem] = problems_of(tmp_path, f"name: {'x' * 129}\ninclude_segments: [1]\n")
    assert "129 characters" in problem and "'name'" in problem


def test_unknown_key_suggests_the_intended_field(tmp_path):
    [problem] = problems_of(tmp_path, "name: A\ninclude_segments: [1]\nexclude_segment: [2]\n")
    assert "'exclude_segment'" in problem and "did you mean 'exclude_segments'" in problem


def test_bad_cron_is_refused(tmp_path):
    [problem] = problems_of(tmp_path, "name: A\ninclude_segments: [1]\nschedule: '61 * * * *'\n")
    assert "'schedule'" in problem and "not a valid cron" in problem


def test_duplicate_and_non_numeric_segment_ids_are_refused(tmp_path):
    problems = problems_of(tmp_path, "name: A\ninclude_segments: [1, 1, abc]\n")
    assert any("more than once" in p for p in problems)
    assert any("'abc'" in p for p in problems)


def test_unknown_identifier_is_refused(tmp_path):
    [problem] = problems_of(tmp_path, "name: A\ninclude_segments: [1]\nidentifiers: [email, idfa]\n")
    assert "idfa" in problem and "choose from email, phone, maid" in problem


def test_invalid_yaml_reports_line(tmp_path):
    [problem] = problems_of(tmp_path, "name: A\ninclude_segments: [1\n")
    assert "not valid YAML at line" in problem


def test_two_audiences_with_one_name_on_one_integration_are_both_refused(tmp_path):
    write(tmp_path, "a.yaml", "name: Buyers\ninclude_segments: [1]\n")
    write(tmp_path, "b.yaml", "name: buyers\ninclude_segments: [2]\n")
    write(tmp_path, "c.yaml", "name: Buyers\ninclude_segments: [2]\nintegration: other\n")
    definitions, problems = load_audiences(tmp_path)
    assert [d.key for d in definitions] == ["c"]
    assert {Path(p.path).name for p in problems} == {"a.yaml", "b.yaml"}


def test_one_bad_file_does_not_hide_the_valid_ones(tmp_path):
    write(tmp_path, "good.yaml", "name: Good\ninclude_segments: [1]\n")
    write(tmp_path, "bad.yaml", "name: Bad\n")
    definitions, problems = load_audiences(tmp_path)
    assert [d.key for d in definitions] == ["good"]
    assert len(problems) == 1


def test_error_message_lists_every_problem(tmp_path):
    write(tmp_path, "bad.yaml", "name: ''\ninclude_segments: []\n")
    _, problems = load_audiences(tmp_path)
    message = str(AudienceDefinitionError(problems))
    assert message.startswith("2 problem(s)") and "'name'" in message and "'include_segments'" in message


def test_shipped_demo_audiences_are_valid():
    definitions, problems = load_audiences(Path(__file__).resolve().parents[2] / "include" / "audiences")
    assert problems == []
    assert len(definitions) >= 4


@pytest.mark.parametrize("schedule", ["@daily", "0 6 * * *", None])
def test_accepted_schedules(tmp_path, schedule):
    import yaml

    path = write(tmp_path, "s.yaml", yaml.safe_dump({"name": "S", "include_segments": [1], "schedule": schedule}))
    definition, problems = parse_audience_file(path)
    assert problems == [] and definition.schedule == schedule


def test_api_field_is_optional_and_passed_to_the_operator(tmp_path):
    definition, problems = parse_audience_file(write(tmp_path, "a.yaml", "name: A\ninclude_segments: [1]\n"))
    assert problems == [] and definition.api is None and definition.as_dict()["api"] is None
    definition, problems = parse_audience_file(
        write(tmp_path, "b.yaml", "name: B\ninclude_segments: [1]\napi: partner\n")
    )
    assert problems == [] and definition.as_dict()["api"] == "partner"


def test_unknown_api_names_the_field_and_the_choices(tmp_path):
    [problem] = problems_of(tmp_path, "name: A\ninclude_segments: [1]\napi: segment\n")
    assert "'api'" in problem and "customer_file" in problem and "partner" in problem and "Fix:" in problem


# -- normalization options and TikTok's create options (issue 15) ------------------------------


def test_normalization_options_are_optional_and_passed_to_the_operator(tmp_path):
    definition, problems = parse_audience_file(write(tmp_path, "a.yaml", "name: A\ninclude_segments: [1]\n"))
    assert problems == [] and definition.as_dict()["normalization"] == {}
    text = "name: B\ninclude_segments: [1]\nnormalization: {phone_format: Both, email_dots: gmail}\n"
    definition, problems = parse_audience_file(write(tmp_path, "b.yaml", text))
    assert problems == []
    assert definition.as_dict()["normalization"] == {"phone_format": "both", "email_dots": "gmail"}


def test_normalization_option_values_agree_with_the_normalizer():
    from tiktok_audiences.definitions import NORMALIZATION_OPTIONS
    from tiktok_audiences.members import identifier_types

    assert NORMALIZATION_OPTIONS == {
        "phone_format": identifier_types.PHONE_FORMATS,
        "email_plus_suffix": identifier_types.EMAIL_PLUS_SUFFIX,
        "email_dots": identifier_types.EMAIL_DOTS,
    }
    assert set(NORMALIZATION_OPTIONS) == set(identifier_types.Normalization().as_key())


def test_unknown_normalization_option_and_value_name_the_field_and_the_fix(tmp_path):
    problems = problems_of(
        tmp_path, "name: A\ninclude_segments: [1]\nnormalization: {phone_formt: e164, email_dots: all}\n"
    )
    assert any("'normalization.phone_formt'" in p and "did you mean 'phone_format'" in p for p in problems)
    assert any("'normalization.email_dots'" in p and "keep, gmail, remove" in p and "Fix:" in p for p in problems)


def test_partner_audience_refuses_a_phone_format_other_than_e164(tmp_path):
    [problem] = problems_of(
        tmp_path, "name: A\ninclude_segments: [1]\napi: partner\nnormalization: {phone_format: both}\n"
    )
    assert "'normalization.phone_format'" in problem and "E.164" in problem and "Fix:" in problem
    definition, problems = parse_audience_file(
        write(tmp_path, "ok.yaml",
              "name: A\ninclude_segments: [1]\napi: partner\nnormalization: {phone_format: e164}\n")
    )
    assert problems == []


def test_create_options_are_validated_and_passed_to_the_operator(tmp_path):
    text = "name: A\ninclude_segments: [1]\nretention_in_days: 180\naudience_enhancement: true\n"
    definition, problems = parse_audience_file(write(tmp_path, "a.yaml", text))
    assert problems == []
    assert (definition.as_dict()["retention_in_days"], definition.as_dict()["audience_enhancement"]) == (180, True)
    definition, _ = parse_audience_file(write(tmp_path, "b.yaml", "name: B\ninclude_segments: [1]\n"))
    assert (definition.retention_in_days, definition.audience_enhancement) == (None, None)


@pytest.mark.parametrize("value", ["0", "366", "'30'", "1.5", "true"])
def test_retention_outside_tiktoks_range_is_refused(tmp_path, value):
    [problem] = problems_of(tmp_path, f"name: A\ninclude_segments: [1]\nretention_in_days: {value}\n")
    assert "'retention_in_days'" in problem and "from 1 to 365" in problem and "Fix:" in problem


def test_audience_enhancement_must_be_a_boolean(tmp_path):
    [problem] = problems_of(tmp_path, "name: A\ninclude_segments: [1]\naudience_enhancement: 'yes'\n")
    assert "'audience_enhancement'" in problem and "true or false" in problem


def test_partner_audience_refuses_customer_file_create_options(tmp_path):
    problems = problems_of(
        tmp_path, "name: A\ninclude_segments: [1]\napi: partner\nretention_in_days: 30\naudience_enhancement: false\n"
    )
    assert len(problems) == 2
    assert all("/segment/audience/" in p and "api: customer_file" in p for p in problems)
