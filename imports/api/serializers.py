from rest_framework import serializers

from ..parsers import ImportFormat


class ImportUploadSerializer(serializers.Serializer):
    file = serializers.FileField(help_text="The file to import.")
    format = serializers.ChoiceField(
        choices=ImportFormat.choices, required=False,
        help_text="Leave out to detect it from the file's content and name.",
    )


class ImportProblemSerializer(serializers.Serializer):
    line = serializers.IntegerField(allow_null=True, help_text="Line of the file, for text "
                                    "formats (RIS, BibTeX, XML, a JSON syntax error).")
    record = serializers.IntegerField(allow_null=True, help_text="Record number, from 1.")
    field = serializers.CharField(help_text="The field as the file names it ('PY', "
                                  "'protocolSection.designModule.phases'), or ''.")
    message = serializers.CharField()


class ExistingSerializer(serializers.Serializer):
    label = serializers.CharField()
    url = serializers.CharField(help_text="Link to the existing record, or '' for a "
                                "duplicate within the file.")


class ImportRowSerializer(serializers.Serializer):
    record = serializers.IntegerField()
    line = serializers.IntegerField(allow_null=True)
    kind = serializers.ChoiceField(choices=["citation", "registry"])
    status = serializers.ChoiceField(choices=["new", "match", "invalid"])
    summary = serializers.CharField()
    fields = serializers.DictField(help_text="The record mapped to carlit's fields.")
    existing = ExistingSerializer(allow_null=True)
    note = serializers.CharField(help_text="'duplicate' for a second copy in the same file.")
    problems = ImportProblemSerializer(many=True)


class ImportCountsSerializer(serializers.Serializer):
    new = serializers.IntegerField()
    matches = serializers.IntegerField()
    invalid = serializers.IntegerField()


class ImportPreviewSerializer(serializers.Serializer):
    format = serializers.ChoiceField(choices=ImportFormat.choices)
    filename = serializers.CharField(allow_blank=True)
    counts = ImportCountsSerializer()
    records = ImportRowSerializer(many=True)


class CreatedExtractionSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    citation = serializers.CharField()


class CreatedRegistryRecordSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    identifier = serializers.CharField()
    title = serializers.CharField()


class ImportResultSerializer(ImportPreviewSerializer):
    extractions = CreatedExtractionSerializer(many=True, help_text="Draft extractions "
                                              "created, one per new citation.")
    registry_records = CreatedRegistryRecordSerializer(many=True)


class ImportRefusedSerializer(serializers.Serializer):
    detail = serializers.CharField()
    errors = ImportProblemSerializer(many=True)
