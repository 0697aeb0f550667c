"MkDocs hooks for agileml's site: the README, which lives beside nbs/ rather than in it, is the home page."
from pathlib import Path
from mkdocs.structure.files import File, InclusionLevel


def on_files(files, config):
    "Add the README as index.md, its links to nbs/ made relative to the site's pages, which are nbs/ itself."
    readme = (Path(config["config_file_path"]).parent / "README.md").read_text(encoding="utf-8")
    files.append(File.generated(config, "index.md", content=readme.replace("](nbs/", "]("),
                                inclusion=InclusionLevel.INCLUDED))
    return files
