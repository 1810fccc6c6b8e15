"""A therapist's profile photo: checked, then re-encoded so nothing of the upload is kept.

Pillow reads the image (refusing anything that is not a JPEG, PNG or WebP, or is too large in
bytes or pixels), and a fresh JPEG of at most 512 px is written from the pixels alone: no EXIF
(location, camera), no ICC profile, no comments, no second image hidden in the file.
"""

from __future__ import annotations

import io

from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import UploadedFile
from django.utils.translation import gettext as _
from PIL import Image, ImageOps, UnidentifiedImageError

MAX_BYTES = 5 * 1024 * 1024
MAX_PIXELS = 40_000_000
SIDE = 512
FORMATS = {"JPEG", "PNG", "WEBP"}


def reencode(upload: UploadedFile[bytes]) -> bytes:
    """The upload as a clean JPEG, or a ValidationError saying what is wrong with it."""
    if upload.size is not None and upload.size > MAX_BYTES:
        raise ValidationError(_("The photo is larger than 5 MB. Choose a smaller one."))
    data = upload.read(MAX_BYTES + 1)
    if len(data) > MAX_BYTES:
        raise ValidationError(_("The photo is larger than 5 MB. Choose a smaller one."))
    try:
        with Image.open(io.BytesIO(data)) as probe:
            if probe.format not in FORMATS:
                raise ValidationError(_("The photo must be a JPEG, PNG or WebP image."))
            if probe.width * probe.height > MAX_PIXELS:
                raise ValidationError(_("The photo has too many pixels. Choose a smaller one."))
            probe.verify()
        with Image.open(io.BytesIO(data)) as opened:
            image = ImageOps.exif_transpose(opened)  # upright as taken, then the EXIF is dropped
            image.thumbnail((SIDE, SIDE))
            clean = Image.new("RGB", image.size, "white")
            rgba = image.convert("RGBA")
            clean.paste(rgba, mask=rgba.getchannel("A"))
    except ValidationError:
        raise
    except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError) as exc:
        raise ValidationError(_("This file could not be read as a photo.")) from exc
    out = io.BytesIO()
    clean.save(out, format="JPEG", quality=85, optimize=True)
    return out.getvalue()
