from shortstack.links import CODE_ALPHABET, CODE_LENGTH, new_code


def test_codes_are_random_url_safe_and_not_sequential():
    codes = {new_code() for _ in range(2000)}
    assert len(codes) == 2000
    assert all(len(c) == CODE_LENGTH and set(c) <= set(CODE_ALPHABET) for c in codes)
