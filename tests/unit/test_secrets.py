from cryptography.fernet import Fernet

from app.security import Encryptor, hash_password, new_temporary_password, verify_password


def test_passwords_are_hashed_with_argon2_and_verified():
    hashed = hash_password("Correct-horse-42")
    assert hashed.startswith("$argon2")
    assert verify_password(hashed, "Correct-horse-42")
    assert not verify_password(hashed, "wrong")
    assert not verify_password(None, "anything")


def test_encryption_keys_rotate_old_ciphertext_still_decrypts():
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    token = Encryptor([old]).encrypt("4111-1111")
    rotated = Encryptor([new, old])
    assert rotated.decrypt(token) == "4111-1111"
    assert Encryptor([new]).decrypt(rotated.rotate(token)) == "4111-1111"


def test_temporary_passwords_are_random_and_readable():
    passwords = {new_temporary_password() for _ in range(50)}
    assert len(passwords) == 50
    assert all(len(p) == 14 and p.count("-") == 2 for p in passwords)
